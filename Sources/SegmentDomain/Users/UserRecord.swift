import Foundation
import SegmentRules

/// One user as Segmentd knows them.
public struct UserRecord: Sendable {
    public let userID: String
    public let firstSeen: Date
    /// The profile's attributes, typed by the catalog.
    public let attributes: [String: RuleValue]
    public let lastLocation: (latitude: Double, longitude: Double, time: Date)?
    public let profileUpdated: Date?
    public let tags: [String]
    public let recentEvents: [StoredEvent]

    package init(
        userID: String, firstSeen: Date, attributes: [String: RuleValue],
        lastLocation: (latitude: Double, longitude: Double, time: Date)?, profileUpdated: Date?, tags: [String], recentEvents: [StoredEvent]
    ) {
        self.userID = userID
        self.firstSeen = firstSeen
        self.attributes = attributes
        self.lastLocation = lastLocation
        self.profileUpdated = profileUpdated
        self.tags = tags
        self.recentEvents = recentEvents
    }
}
