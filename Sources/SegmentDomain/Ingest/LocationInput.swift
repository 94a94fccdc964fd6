import Foundation

/// A location a user was seen at.
public struct LocationInput: Sendable {
    public var userID: String
    public var latitude: Double
    public var longitude: Double
    public var time: Date?

    public init(userID: String, latitude: Double, longitude: Double, time: Date?) {
        self.userID = userID
        self.latitude = latitude
        self.longitude = longitude
        self.time = time
    }
}
