import Foundation
import SegmentRules

/// One user's membership in one segment.
public struct SegmentMembership: Sendable, Equatable {
    public let segmentID: String
    public let member: Bool
    public let enteredAt: Date?

    package init(segmentID: String, member: Bool, enteredAt: Date?) {
        self.segmentID = segmentID
        self.member = member
        self.enteredAt = enteredAt
    }
}
