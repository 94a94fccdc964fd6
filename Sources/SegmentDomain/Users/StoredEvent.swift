import Foundation
import SegmentRules

/// An event as stored.
public struct StoredEvent: Sendable {
    public let name: String
    public let time: Date
    public let messageID: String
    public let properties: [String: RuleValue]

    package init(name: String, time: Date, messageID: String, properties: [String: RuleValue]) {
        self.name = name
        self.time = time
        self.messageID = messageID
        self.properties = properties
    }
}
