import SegmentRules

/// A segment as a create, update or rollback saved it, with its rule's warnings:
/// the change is saved anyway, and the caller is told what probably is a mistake
/// (an event never received, with the closest known name).
public struct SavedSegment: Sendable {
    public var record: SegmentRecord
    public var warnings: [RuleDiagnostic]

    public init(record: SegmentRecord, warnings: [RuleDiagnostic]) {
        self.record = record
        self.warnings = warnings
    }
}
