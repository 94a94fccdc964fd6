import Foundation
import SegmentRules

/// A response to a campaign.
public struct ResponseInput: Sendable {
    public var userID: String
    public var campaignID: String
    public var kind: ResponseKind
    public var time: Date?

    public init(userID: String, campaignID: String, kind: ResponseKind, time: Date?) {
        self.userID = userID
        self.campaignID = campaignID
        self.kind = kind
        self.time = time
    }
}
