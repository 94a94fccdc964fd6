import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentRules

/// Reads users and erases them.
public struct UserStore: Sendable {
    let database: Database
    /// The time an erasure's exits take effect at.
    let clock: @Sendable () -> Date

    public init(database: Database, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.clock = clock
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
                    let at = try columns[3].decode(Date?.self)
                {
                    location = (lat, lon, at)
                }
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
                let typed = try [String: RuleValue](storedJSON: properties) { _ in nil }
                events.append(StoredEvent(name: name, time: time, messageID: messageID, properties: typed))
            }
            return UserRecord(
                userID: userID, firstSeen: firstSeen, attributes: try [String: RuleValue](storedJSON: attributes) { types[$0] },
                lastLocation: location.map { (latitude: $0.0, longitude: $0.1, time: $0.2) }, profileUpdated: updated,
                tags: tags, recentEvents: events)
        }
    }

    /// Erases a user completely: profile, events (and their message ids), rollups,
    /// responses, locations, tags. Returns rows removed by kind.
    public func delete(tenant: TenantID, userID: String, audit: AuditContext) async throws -> [String: Int64] {
        try await database.audited(audit, resource: "tenants/\(tenant)/users/\(userID)") { connection, record in
            let logger = database.logger
            // Before anything else: membership writers in flight finish first, and later ones then see no such user.
            try await MembershipWriteLock.exclusive(tenant, on: connection, logger: logger)
            var found: Int64?
            for try await index in try await connection.query(
                "SELECT user_index FROM users WHERE external_id = \(userID) FOR UPDATE", logger: logger
            ).decode(Int64.self) { found = index }
            guard let index = found else { throw DomainError(.notFound, "tenants/\(tenant)/users/\(userID) not found") }
            try await MemberSetCache.usersWillChange(tenant: tenant, on: connection, logger: logger)
            var removed: [String: Int64] = [:]
            let statements: [(String, PostgresQuery)] = [
                (
                    "event_message_ids",
                    """
                    WITH gone AS (DELETE FROM event_message_ids m USING events e
                                  WHERE e.user_index = \(index) AND m.message_id = e.message_id RETURNING 1)
                    SELECT count(*)::int8 FROM gone
                    """
                ),
                ("events", "WITH gone AS (DELETE FROM events WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
                ("event_rollups", "WITH gone AS (DELETE FROM event_rollups WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
                (
                    "responses",
                    "WITH gone AS (DELETE FROM campaign_responses WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"
                ),
                ("locations", "WITH gone AS (DELETE FROM locations WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
                ("tags", "WITH gone AS (DELETE FROM user_tags WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
                // The stored sizes of the user's segments drop with the membership rows, and the change log
                // records each exit (cause: deletion), in the same statement.
                ("memberships", Self.leavingEverySegment(tenant: tenant, index: index, at: clock())),
                ("profile", "WITH gone AS (DELETE FROM profiles WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
                ("user", "WITH gone AS (DELETE FROM users WHERE user_index = \(index) RETURNING 1) SELECT count(*)::int8 FROM gone"),
            ]
            for (kind, statement) in statements {
                for try await count in try await connection.query(statement, logger: logger).decode(Int64.self) {
                    removed[kind] = count
                }
            }
            // Export files made before may hold the user: they expire, and the sweeper deletes them.
            removed["export_files"] = try await ExportStore.expireAll(reason: "a user was erased", on: connection, logger: logger)
            record.before = removed.mapValues { .number(Double($0)) }
            return removed
        }
    }

    /// Removes the user from every segment, lowering the segments' sizes and logging each exit
    /// as a write of its own (the segment's next member version, as membership at an instant needs).
    private static func leavingEverySegment(tenant: TenantID, index: Int64, at now: Date) -> PostgresQuery {
        var binds = PostgresBindings()
        binds.append(tenant.rawValue)
        binds.append(index)
        binds.append(now)
        return PostgresQuery(
            unsafeSQL: """
                WITH gone AS (DELETE FROM segment_members WHERE user_index = $2 RETURNING segment_id),
                sized AS (
                    UPDATE segments s SET size = s.size - 1, member_version = s.member_version + 1
                    FROM gone g WHERE s.segment_id = g.segment_id
                    RETURNING s.segment_id, s.member_version
                ),
                diff AS (SELECT segment_id, $2::int8 AS user_index, false AS entered, member_version AS version FROM sized),
                \(ChangeLog.appending(diff: "diff", tenant: "$1", effectiveAt: "$3::timestamptz", cause: .deletion, jobID: "0::int8"))
                SELECT count(*)::int8 FROM gone
                """,
            binds: binds)
    }
}
