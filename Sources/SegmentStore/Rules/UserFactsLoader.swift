import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentRules

/// Loads what the single-user evaluator needs about users, typed through the
/// catalog (a timestamp is a string in JSON; the catalog says it is a time).
struct UserFactsLoader {
    let catalog: RuleCatalog
    let logger: Logger

    /// Facts of the users in `indexes` (every user of the tenant when nil). With `limit`
    /// (and `indexes`), each user's events and campaign responses are only the newest
    /// `limit` of each, and `truncated` names the users who have more: one user with
    /// millions of events must not load them all into one request's memory. Without
    /// `memberships`, the segments users are in are not read (`segments` stays empty);
    /// without `events`, neither are their events (a catch-up appends the new ones itself).
    func load(
        _ indexes: [Int64]?, limit: Int? = nil, events readEvents: Bool = true, memberships: Bool = true, on connection: PostgresConnection
    ) async throws -> (facts: [Int64: UserFacts], truncated: Set<Int64>) {
        var facts: [Int64: UserFacts] = [:]
        var truncated = Set<Int64>()
        let all = indexes == nil
        let wanted = indexes ?? []
        let bound = indexes == nil ? nil : limit
        for try await index in try await connection.query(
            "SELECT user_index FROM users WHERE \(all) OR user_index = ANY(\(wanted))", logger: logger
        ).decode(Int64.self) {
            facts[index] = UserFacts()
        }
        for try await (index, attributes, latitude, longitude, seen) in try await connection.query(
            """
            SELECT user_index, attributes::text, last_latitude, last_longitude, last_location_at
            FROM profiles WHERE \(all) OR user_index = ANY(\(wanted))
            """, logger: logger
        ).decode((Int64, String, Double?, Double?, Date?).self) {
            facts[index]?.attributes = try typed(attributes) { catalog.attributes[$0] }
            if let latitude, let longitude, let seen {
                facts[index]?.lastLocation = LastLocation(latitude: latitude, longitude: longitude, time: seen)
            }
        }
        if let bound {
            // Newest first, one more than the bound to learn whether there are more; kept oldest first.
            var events: [Int64: [UserEvent]] = [:]
            for try await (index, name, time, properties) in try await connection.query(
                """
                SELECT w.user_index, e.event_name, e.time, e.properties::text FROM unnest(\(wanted)::bigint[]) AS w (user_index)
                CROSS JOIN LATERAL (
                    SELECT event_name, time, properties FROM events WHERE user_index = w.user_index
                    ORDER BY time DESC, message_id DESC LIMIT \(Int64(bound) + 1)
                ) e
                """, logger: logger
            ).decode((Int64, String, Date, String).self) {
                events[index, default: []].append(try event(name, time, properties))
            }
            for (index, newest) in events {
                if newest.count > bound { truncated.insert(index) }
                facts[index]?.events = newest.prefix(bound).reversed()
            }
            var responses: [Int64: [UserResponse]] = [:]
            for try await (index, campaign, kind, time) in try await connection.query(
                """
                SELECT w.user_index, r.campaign_id, r.kind, r.time FROM unnest(\(wanted)::bigint[]) AS w (user_index)
                CROSS JOIN LATERAL (
                    SELECT campaign_id, kind, time FROM campaign_responses WHERE user_index = w.user_index
                    ORDER BY time DESC LIMIT \(Int64(bound) + 1)
                ) r
                """, logger: logger
            ).decode((Int64, String, String, Date).self) {
                guard let kind = SegmentRules.ResponseKind(rawValue: kind) else { continue }
                responses[index, default: []].append(UserResponse(campaign: campaign, kind: kind, time: time))
            }
            for (index, newest) in responses {
                if newest.count > bound { truncated.insert(index) }
                facts[index]?.responses = newest.prefix(bound).reversed()
            }
        } else {
            if readEvents {
                for try await (index, name, time, properties) in try await connection.query(
                    """
                    SELECT user_index, event_name, time, properties::text FROM events
                    WHERE \(all) OR user_index = ANY(\(wanted)) ORDER BY user_index, time, message_id
                    """, logger: logger
                ).decode((Int64, String, Date, String).self) {
                    facts[index]?.events.append(try event(name, time, properties))
                }
            }
            for try await (index, campaign, kind, time) in try await connection.query(
                """
                SELECT user_index, campaign_id, kind, time FROM campaign_responses
                WHERE \(all) OR user_index = ANY(\(wanted)) ORDER BY user_index, time
                """, logger: logger
            ).decode((Int64, String, String, Date).self) {
                guard let kind = SegmentRules.ResponseKind(rawValue: kind) else { continue }
                facts[index]?.responses.append(UserResponse(campaign: campaign, kind: kind, time: time))
            }
        }
        for try await (index, tag) in try await connection.query(
            "SELECT user_index, tag_id FROM user_tags WHERE \(all) OR user_index = ANY(\(wanted))", logger: logger
        ).decode((Int64, String).self) {
            facts[index]?.tags.insert(tag)
        }
        guard memberships else { return (facts, truncated) }
        for try await (index, segment) in try await connection.query(
            "SELECT user_index, segment_id FROM segment_members WHERE \(all) OR user_index = ANY(\(wanted))", logger: logger
        ).decode((Int64, String).self) {
            facts[index]?.segments.insert(segment)
        }
        return (facts, truncated)
    }

    /// The events of `indexes` that the transactions `transactions` inserted (32-bit
    /// transaction ids, as `xmin` holds them), per user in the order a whole read gives.
    /// PostgreSQL still walks each user's rows by index, but only the new ones are sent
    /// and decoded: an acknowledged batch costs its own events, not its users' histories.
    /// - Parameter excluded: Rows to leave out, by ``TransactionUser/rowKey`` (the state holds them already).
    func newEvents(
        of indexes: [Int64], insertedBy transactions: [Int64], excluding excluded: Set<Int64> = [], on connection: PostgresConnection
    ) async throws -> [Int64: [UserEvent]] {
        var events: [Int64: [UserEvent]] = [:]
        guard !indexes.isEmpty, !transactions.isEmpty else { return events }
        for try await (index, name, time, properties, xmin) in try await connection.query(
            """
            SELECT user_index, event_name, time, properties::text, xmin::text::bigint FROM events
            WHERE user_index = ANY(\(indexes)) AND xmin::text::bigint = ANY(\(transactions))
            ORDER BY user_index, time, message_id
            """, logger: logger
        ).decode((Int64, String, Date, String, Int64).self) {
            if !excluded.isEmpty, excluded.contains(TransactionUser.rowKey(xmin: xmin, user: index)) { continue }
            events[index, default: []].append(try event(name, time, properties))
        }
        return events
    }

    private func event(_ name: String, _ time: Date, _ properties: String) throws -> UserEvent {
        let types = catalog.properties[name] ?? [:]
        return UserEvent(name: name, time: time, properties: try typed(properties) { types[$0] })
    }

    /// A JSON object of stored values, typed by the catalog.
    private func typed(_ json: String, type: (String) -> ValueType?) throws -> [String: RuleValue] {
        try [String: RuleValue](storedJSON: json, type: type)
    }
}

extension RuleStore {
    /// One user's facts by external id, with the catalog and context at `now`; nil when the user does not exist.
    /// Only the newest `eventLimit` events and campaign responses are loaded; `partial` says the user has more.
    public func facts(
        tenant: TenantID, userID: String, now: Date, eventLimit: Int
    ) async throws -> (facts: UserFacts, context: EvaluationContext, catalog: RuleCatalog, partial: Bool)? {
        try await database.withTenant(tenant) { connection in
            let logger = database.logger
            var index: Int64?
            for try await found in try await connection.query(
                "SELECT user_index FROM users WHERE external_id = \(userID)", logger: logger
            ).decode(Int64.self) { index = found }
            guard let index else { return nil }
            let catalog = try await Self.catalog(on: connection, logger: logger)
            let context = try await Self.context(tenant: tenant, now: now, on: connection, logger: logger)
            let (facts, truncated) = try await UserFactsLoader(catalog: catalog, logger: logger).load([index], limit: eventLimit, on: connection)
            return facts[index].map { ($0, context, catalog, truncated.contains(index)) }
        }
    }

    /// Every user's facts by user index (for differential tests and small tenants).
    public func allFacts(tenant: TenantID) async throws -> [Int64: UserFacts] {
        try await database.withTenant(tenant) { connection in
            let catalog = try await Self.catalog(on: connection, logger: database.logger)
            return try await UserFactsLoader(catalog: catalog, logger: database.logger).load(nil, on: connection).facts
        }
    }
}
