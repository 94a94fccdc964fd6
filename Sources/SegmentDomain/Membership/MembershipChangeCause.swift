/// Why a user entered or left a segment: every row of the membership change log says.
public enum MembershipChangeCause: String, Sendable, CaseIterable {
    /// A rule's refresh wrote the difference (a connector segment's re-match too).
    case refresh
    /// A real-time segment's continuous evaluation flipped the user.
    case realtime
    /// A connector's push, replace session or pull.
    case sync
    /// Predictive scoring put the user in or out of the bucket.
    case score
    /// The user was erased: they left every segment.
    case deletion
}
