import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentRules

/// One user as Segmentd knows them.
public struct UserRecord: Sendable {
    public let userID: String
    public let firstSeen: Date
    /// The profile's attributes as JSON text, with their catalog types.
    public let attributesJSON: String
    public let attributeTypes: [String: ValueType]
    public let lastLocation: (latitude: Double, longitude: Double, time: Date)?
    public let profileUpdated: Date?
    public let tags: [String]
    public let recentEvents: [StoredEvent]
}

/// An event as stored.
public struct StoredEvent: Sendable {
    public let name: String
    public let time: Date
    public let messageID: String
    public let propertiesJSON: String
}

/// Reads users and erases them.
public struct UserStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Gets a user with profile, tags and recent events.
    public func get(tenant: TenantID, userID: String, recentEvents: Int) async throws -> UserRecord {
        try await database.withTenant(tenant) { connection in
            let logger = database.logger
            var found: (Int64, Date)?
            for try await row in try await connection.query(
                "SELECT user_index, created_at FROM users WHERE external_id = \(userID)", logger: logger
            ).decode((Int64, Date).self) { found = row }
            guard let (index, firstSeen) = found else { throw DomainError(.notFound, "tenants/\(tenant)/users/\(userID) not found") }
            var attributes = "{}"
            var location: (Double, Double, Date)?
            var updated: Date?
            for try await row in try await connection.query(
                "SELECT attributes::text, last_latitude, last_longitude, last_location_at, updated_at FROM profiles WHERE user_index = \(index)",
                logger: logger)
            {
                let columns = row.makeRandomAccess()
                attributes = try columns[0].decode(String.self)
                if let lat = try columns[1].decode(Double?.self), let lon = try columns[2].decode(Double?.self),
                   let at = try columns[3].decode(Date?.self) { location = (lat, lon, at) }
                updated = try columns[4].decode(Date.self)
            }
            var types: [String: ValueType] = [:]
            for try await (key, type) in try await connection.query(
                """
                SELECT attribute, value_type FROM catalog_attributes
                WHERE attribute IN (SELECT jsonb_object_keys(\(attributes)::jsonb))
                """, logger: logger
            ).decode((String, String).self) { types[key] = ValueType(rawValue: type) }
            var tags: [String] = []
            for try await tag in try await connection.query(
                "SELECT tag_id FROM user_tags WHERE user_index = \(index) ORDER BY tag_id", logger: logger
            ).decode(String.self) { tags.append(tag) }
            var events: [StoredEvent] = []
            for try await (name, time, messageID, properties) in try await connection.query(
                """
                SELECT event_name, time, message_id, properties::text FROM events
                WHERE user_index = \(index) ORDER BY time DESC LIMIT \(recentEvents)
                """, logger: logger
            ).decode((String, Date, String, String).self) {
                events.append(StoredEvent(name: name, time: time, messageID: messageID, propertiesJSON: properties))
            }
            return UserRecord(
                userID: userID, firstSeen: firstSeen, attributesJSON: attributes, attributeTypes: types,
                lastLocation: location.map { (latitude: $0.0, longitude: $0.1, time: $0.2) }, profileUpdated: updated,
                tags: tags, recentEvents: events)
        }
    }

    /// Erases a user completely: profile, events (and their message ids), rollups,
    /// responses, locations, tags. Returns rows removed by kind.
    public func delete(tenant: TenantID, userID: String, audit: AuditContext) async throws -> [String: Int64] {
        try await database.audited(audit, resource: "tenants/\(tenant)/users/\(userID)") { connection, record in
            let logger = database.logger
            var found: Int64?
            for try await index in try await connection.query(
                "SELECT user_index FROM users WHERE external_id = \(userID) FOR UPDATE", logger: logger
            ).decode(Int64.self) { found = index }
            guard let index = found else { throw DomainError(.notFound, "tenants/\(tenant)/users/\(userID) not found") }
            try await MemberSetCache.usersWillChange(tenant: tenant, on: connection, logger: logger)
            var removed: [String: Int64] = [:]
            let statements: [(String, PostgresQuery)] = [
                ("event_message_ids", """
                    WITH gone AS (DELETE FROM event_message_ids m USING events e
                                  WHERE e.user_index = \(index) AND m.message_id = e.message_id RETURNING 1)
                    SELECT count(*)::int8 FROM gone
                    """),
                ("events", "WITH gone AS (DELETE FROM events WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
                ("event_rollups", "WITH gone AS (DELETE FROM event_rollups WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
                ("responses", "WITH gone AS (DELETE FROM campaign_responses WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
                ("locations", "WITH gone AS (DELETE FROM locations WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
                ("tags", "WITH gone AS (DELETE FROM user_tags WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
                ("memberships", "WITH gone AS (DELETE FROM segment_members WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
                ("profile", "WITH gone AS (DELETE FROM profiles WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
                ("user", "WITH gone AS (DELETE FROM users WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
            ]
            for (kind, statement) in statements {
                for try await count in try await connection.query(statement, logger: logger).decode(Int64.self) {
                    removed[kind] = count
                }
            }
            record.before = removed.mapValues { .number(Double($0)) }
            return removed
        }
    }
}

/// Catalog entries of the tenant's data.
public struct CatalogStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// An event type with its properties.
    public struct EventType: Sendable {
        public let name: String
        public let count: Int64
        public let firstSeen: Date
        public let lastSeen: Date
        public let properties: [(key: String, type: ValueType)]
    }

    /// An attribute.
    public struct Attribute: Sendable {
        public let key: String
        public let type: ValueType
        public let count: Int64
        public let firstSeen: Date
        public let lastSeen: Date
    }

    /// A campaign.
    public struct Campaign: Sendable {
        public let id: String
        public let firstSend: Date?
        public let lastSeen: Date
        public let counts: [String: Int64]
    }

    static func after(_ token: String?) throws -> String? {
        try token.map { token in
            guard let parts = PageToken.decode(token), parts.count == 1 else { throw DomainError.invalid("page_token", "not a token from this list") }
            return parts[0]
        }
    }

    public func eventTypes(tenant: TenantID, pageSize: Int, pageToken: String?) async throws -> ([EventType], String?) {
        let after = try Self.after(pageToken)
        let types = try await database.withTenant(tenant) { connection -> [EventType] in
            var rows: [(String, Int64, Date, Date)] = []
            for try await row in try await connection.query(
                """
                SELECT event_name, count, first_seen, last_seen FROM catalog_event_types
                WHERE (\(after)::text IS NULL OR event_name > \(after)) ORDER BY event_name LIMIT \(pageSize + 1)
                """, logger: database.logger
            ).decode((String, Int64, Date, Date).self) { rows.append(row) }
            var properties: [String: [(key: String, type: ValueType)]] = [:]
            for try await (event, key, type) in try await connection.query(
                "SELECT event_name, property, value_type FROM catalog_event_properties WHERE event_name = ANY(\(rows.map(\.0))) ORDER BY 1, 2",
                logger: database.logger
            ).decode((String, String, String).self) {
                properties[event, default: []].append((key, ValueType(rawValue: type) ?? .string))
            }
            return rows.map { EventType(name: $0.0, count: $0.1, firstSeen: $0.2, lastSeen: $0.3, properties: properties[$0.0] ?? []) }
        }
        return types.paged(pageSize: pageSize) { PageToken.encode([$0.name]) }
    }

    public func attributes(tenant: TenantID, pageSize: Int, pageToken: String?) async throws -> ([Attribute], String?) {
        let after = try Self.after(pageToken)
        let attributes = try await database.withTenant(tenant) { connection -> [Attribute] in
            var rows: [Attribute] = []
            for try await (key, type, count, first, last) in try await connection.query(
                """
                SELECT attribute, value_type, count, first_seen, last_seen FROM catalog_attributes
                WHERE (\(after)::text IS NULL OR attribute > \(after)) ORDER BY attribute LIMIT \(pageSize + 1)
                """, logger: database.logger
            ).decode((String, String, Int64, Date, Date).self) {
                rows.append(Attribute(key: key, type: ValueType(rawValue: type) ?? .string, count: count, firstSeen: first, lastSeen: last))
            }
            return rows
        }
        return attributes.paged(pageSize: pageSize) { PageToken.encode([$0.key]) }
    }

    public func campaigns(tenant: TenantID, pageSize: Int, pageToken: String?) async throws -> ([Campaign], String?) {
        let offset = try Self.after(pageToken).flatMap(Int.init) ?? 0
        let campaigns = try await database.withTenant(tenant) { connection -> [Campaign] in
            var rows: [Campaign] = []
            for try await row in try await connection.query(
                """
                SELECT campaign_id, first_send_at, last_seen_at, received, opened, clicked, converted FROM campaigns
                ORDER BY first_send_at DESC NULLS LAST, campaign_id OFFSET \(offset) LIMIT \(pageSize + 1)
                """, logger: database.logger)
            {
                let columns = row.makeRandomAccess()
                rows.append(Campaign(
                    id: try columns[0].decode(String.self), firstSend: try columns[1].decode(Date?.self),
                    lastSeen: try columns[2].decode(Date.self),
                    counts: ["received": try columns[3].decode(Int64.self), "opened": try columns[4].decode(Int64.self),
                             "clicked": try columns[5].decode(Int64.self), "converted": try columns[6].decode(Int64.self)]))
            }
            return rows
        }
        let page = Array(campaigns.prefix(pageSize))
        return (page, campaigns.count > pageSize ? PageToken.encode([String(offset + pageSize)]) : nil)
    }
}
