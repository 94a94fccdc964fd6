import Foundation
import SegmentRules

/// Filters of `list`.
public struct SegmentFilter: Sendable {
    public var kind: SegmentKind?
    public var state: SegmentState?
    public var readyToUse = false
    public var category: String?
    /// Case-insensitive substring of the id, display name or description.
    public var text: String?
    public var showDeleted = false
    public init() {}
}
