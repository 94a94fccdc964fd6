import SegmentRules

/// The batches ``AudienceSource`` reads a tenant's data in: plain columns of
/// values (no row objects), at most a batch size of rows each, so loading a
/// tenant of any size holds one batch at a time besides what the engine keeps.
/// User indexes are `UInt32` (the source refuses a tenant with more).
public enum AudienceRows {
    /// A property or attribute as the catalog types it: a batch has one column per entry, in this order.
    public struct Field: Sendable, Equatable {
        public var name: String
        public var type: ValueType
        public init(name: String, type: ValueType) {
            self.name = name
            self.type = type
        }
    }

    /// Users, by increasing index.
    public struct Users: Sendable {
        public var indexes: [UInt32] = []
        public var externalIDs: [String] = []
        public init() {}
        public var count: Int { indexes.count }
    }

    /// Events of one type, by increasing time unless `inTimeOrder` is false.
    public struct Events: Sendable {
        public var name: String
        /// False when the rows come in storage order: the engine sorts a type's events by time once all are read.
        public var inTimeOrder = true
        /// The event type's properties; `values` has one column per field.
        public var fields: [Field]
        public var users: [UInt32] = []
        /// Microseconds since 1970 (``AudienceTime``).
        public var times: [Int64] = []
        public var values: [AudienceValues]
        public init(name: String, fields: [Field], capacity: Int = 0) {
            self.name = name
            self.fields = fields
            self.values = fields.map { AudienceValues(type: $0.type, capacity: capacity) }
            users.reserveCapacity(capacity)
            times.reserveCapacity(capacity)
        }
        public var count: Int { users.count }
    }

    /// Profiles, by increasing user index: typed attributes and the last location.
    public struct Profiles: Sendable {
        /// The catalog's attributes; `values` has one column per field.
        public var fields: [Field]
        public var users: [UInt32] = []
        public var values: [AudienceValues]
        /// The last location, nil where none is known.
        public var locations: [LastLocationRow?] = []
        public init(fields: [Field], capacity: Int = 0) {
            self.fields = fields
            self.values = fields.map { AudienceValues(type: $0.type, capacity: capacity) }
            users.reserveCapacity(capacity)
            locations.reserveCapacity(capacity)
        }
        public var count: Int { users.count }
    }

    /// A user's last known location (what location rules test).
    public struct LastLocationRow: Sendable, Equatable {
        public var latitude: Double
        public var longitude: Double
        /// Microseconds since 1970.
        public var time: Int64
        public init(latitude: Double, longitude: Double, time: Int64) {
            self.latitude = latitude
            self.longitude = longitude
            self.time = time
        }
    }

    /// Users holding one tag, by increasing index.
    public struct Tags: Sendable {
        public var tag: String
        public var users: [UInt32] = []
        public init(tag: String) {
            self.tag = tag
        }
        public var count: Int { users.count }
    }

    /// Responses of one kind to one campaign, by increasing time unless `inTimeOrder` is false.
    public struct Responses: Sendable {
        /// False when the rows come in storage order: the engine sorts them by time once all are read.
        public var inTimeOrder = true
        public var campaign: String
        public var kind: ResponseKind
        public var users: [UInt32] = []
        /// Microseconds since 1970.
        public var times: [Int64] = []
        public init(campaign: String, kind: ResponseKind) {
            self.campaign = campaign
            self.kind = kind
        }
        public var count: Int { users.count }
    }
}
