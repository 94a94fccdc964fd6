import Foundation
import SegmentRules

/// An event to append.
public struct EventInput: Sendable {
    public var userID: String
    public var name: String
    /// Now when nil.
    public var time: Date?
    public var properties: [String: RuleValue]
    /// The client's de-duplication id; a random one when nil (no de-duplication).
    public var messageID: String?

    public init(userID: String, name: String, time: Date?, properties: [String: RuleValue], messageID: String?) {
        self.userID = userID
        self.name = name
        self.time = time
        self.properties = properties
        self.messageID = messageID
    }
}
