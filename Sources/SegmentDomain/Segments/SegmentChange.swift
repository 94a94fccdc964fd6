import SegmentRules

/// A segment just created, updated or rolled back, with the refresh the caller
/// asked to start in the same transaction (so the change and its refresh commit
/// together, and the caller can wait for the members of the new definition),
/// and its rule's warnings (saved anyway; the caller is told what probably is a
/// mistake, such as an event never received, with the closest known name).
public struct SegmentChange: Sendable, Equatable {
    /// The segment after the change.
    public let segment: SegmentRecord
    /// The refresh (sync, training) enqueued, or the pending one it joined; nil when none was asked for.
    public let refresh: JobRecord?
    /// The rule's warnings against the tenant's catalog.
    public var warnings: [RuleDiagnostic] = []

    package init(segment: SegmentRecord, refresh: JobRecord?) {
        self.segment = segment
        self.refresh = refresh
    }
}
