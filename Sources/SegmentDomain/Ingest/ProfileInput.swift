import Foundation
import SegmentRules

/// A profile to upsert.
public struct ProfileInput: Sendable {
    public var userID: String
    public var attributes: [String: RuleValue]
    /// Sets the last known location, if given.
    public var lastLocation: (latitude: Double, longitude: Double)?

    public init(userID: String, attributes: [String: RuleValue], lastLocation: (latitude: Double, longitude: Double)? = nil) {
        self.userID = userID
        self.attributes = attributes
        self.lastLocation = lastLocation
    }
}
