/// What one write of a segment's membership changed.
public struct MembershipChange: Sendable, Equatable {
    public var size: Int64
    public var entered: Int64
    public var exited: Int64
    /// How long selecting the new members took (the rule's evaluation); the rest of a refresh wrote them.
    public var selectMilliseconds: Int64

    public init(size: Int64, entered: Int64, exited: Int64, selectMilliseconds: Int64 = 0) {
        self.size = size
        self.entered = entered
        self.exited = exited
        self.selectMilliseconds = selectMilliseconds
    }
}
