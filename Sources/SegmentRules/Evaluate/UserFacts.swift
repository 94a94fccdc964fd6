import Foundation

/// One event of a user.
public struct UserEvent: Sendable, Equatable {
    public var name: String
    public var time: Date
    public var properties: [String: RuleValue]
    public init(name: String, time: Date, properties: [String: RuleValue] = [:]) {
        self.name = name
        self.time = time
        self.properties = properties
    }
}

/// One campaign response of a user.
public struct UserResponse: Sendable, Equatable {
    public var campaign: String
    public var kind: ResponseKind
    public var time: Date
    public init(campaign: String, kind: ResponseKind, time: Date) {
        self.campaign = campaign
        self.kind = kind
        self.time = time
    }
}

/// Where a user was last seen.
public struct LastLocation: Sendable, Equatable {
    public var latitude: Double
    public var longitude: Double
    public var time: Date
    public init(latitude: Double, longitude: Double, time: Date) {
        self.latitude = latitude
        self.longitude = longitude
        self.time = time
    }
}

/// Everything the single-user evaluator needs about one user.
public struct UserFacts: Sendable, Equatable {
    public var attributes: [String: RuleValue]
    public var events: [UserEvent]
    public var responses: [UserResponse]
    public var tags: Set<String>
    public var lastLocation: LastLocation?
    /// Segments the user is a member of (by id).
    public var segments: Set<String>

    public init(
        attributes: [String: RuleValue] = [:], events: [UserEvent] = [], responses: [UserResponse] = [],
        tags: Set<String> = [], lastLocation: LastLocation? = nil, segments: Set<String> = []
    ) {
        self.attributes = attributes
        self.events = events
        self.responses = responses
        self.tags = tags
        self.lastLocation = lastLocation
        self.segments = segments
    }
}
