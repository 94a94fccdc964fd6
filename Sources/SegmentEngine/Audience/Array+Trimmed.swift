extension Array {
    /// The elements without spare capacity: columns grow by doubling while they
    /// load, and a tenant's state should not keep up to half of itself empty.
    func trimmed() -> [Element] {
        guard capacity > count else { return self }
        var copy: [Element] = []
        copy.reserveCapacity(count)
        copy.append(contentsOf: self)
        return copy
    }
}
