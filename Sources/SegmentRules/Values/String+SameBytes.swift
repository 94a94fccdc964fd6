import Foundation

extension String {
    /// Whether the two strings have the same UTF-8 bytes. Rules compare strings by
    /// their bytes, as PostgreSQL does (Swift's `==` is Unicode canonical equivalence).
    /// For native strings this is a length check and one `memcmp`: the evaluator
    /// compares every event's name with a condition's, user by user.
    public func hasSameBytes(as other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        let compared = utf8.withContiguousStorageIfAvailable { mine in
            other.utf8.withContiguousStorageIfAvailable { theirs in
                mine.isEmpty || memcmp(mine.baseAddress!, theirs.baseAddress!, mine.count) == 0
            }
        }
        if let compared = compared ?? nil { return compared }
        return utf8.elementsEqual(other.utf8)
    }
}
