import Foundation

/// One row of the membership change log: a user entering or leaving a segment.
public struct LoggedChange: Sendable, Equatable {
    /// The change's position in the tenant's log (strictly increasing, no gaps).
    public var position: Int64
    public var segmentID: String
    /// The tenant's user id; nil when the user has been erased since.
    public var userID: String?
    public var entered: Bool
    /// When the change took effect.
    public var effectiveAt: Date
    public var cause: MembershipChangeCause
    /// The job (operation) that made it, when one did.
    public var jobID: Int64?

    public init(
        position: Int64, segmentID: String, userID: String?, entered: Bool, effectiveAt: Date, cause: MembershipChangeCause, jobID: Int64?
    ) {
        self.position = position
        self.segmentID = segmentID
        self.userID = userID
        self.entered = entered
        self.effectiveAt = effectiveAt
        self.cause = cause
        self.jobID = jobID
    }
}

/// A page of the change log read by a watcher.
public struct ChangePage: Sendable, Equatable {
    /// The changes after the position asked for, in order.
    public var changes: [LoggedChange]
    /// The position the reader has seen the log up to: the last change's when the page
    /// is full, else the tenant's latest position (in the same snapshot).
    public var seenThrough: Int64

    public init(changes: [LoggedChange], seenThrough: Int64) {
        self.changes = changes
        self.seenThrough = seenThrough
    }
}
