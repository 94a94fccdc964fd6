import Foundation
import SegmentRules

/// An event as stored.
public struct StoredEvent: Sendable {
    public let name: String
    public let time: Date
    public let messageID: String
    public let propertiesJSON: String

    package init(name: String, time: Date, messageID: String, propertiesJSON: String) {
        self.name = name
        self.time = time
        self.messageID = messageID
        self.propertiesJSON = propertiesJSON
    }
}
