import Foundation
import SegmentRules

/// How an upsert treats attributes it does not mention.
public enum ProfileUpsertMode: Sendable {
    /// Keep them.
    case merge
    /// Remove them.
    case replace
}
