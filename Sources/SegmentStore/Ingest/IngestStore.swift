import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentRules
import Synchronization

/// Writes the tenant's user data: profiles, events, campaign responses and
/// locations. Each batch is validated whole, then written in one transaction
/// with its rollups, catalog updates and audit entry: it commits whole or not
/// at all, and once acknowledged it is durable. Replays change nothing.
public final class IngestStore: Sendable {
    let database: Database
    let limits: IngestLimits
    let users: UserDirectory
    /// Months (UTC, `yyyy*12+m`) whose event partition is known to exist.
    private let partitionMonths = Mutex<Set<Int>>([])

    /// The time records without one get, and the reference for validation (injected by tests).
    let clock: @Sendable () -> Date

    public init(database: Database, limits: IngestLimits = IngestLimits(), clock: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.limits = limits
        self.clock = clock
        self.users = UserDirectory(database: database)
    }

    /// Creates event partitions from last month to three months ahead (at startup).
    public func preparePartitions(now: Date = Date()) async throws {
        try await ensurePartitions(from: now.addingTimeInterval(-31 * 86_400), to: now.addingTimeInterval(92 * 86_400))
    }

    private func ensurePartitions(from: Date, to: Date) async throws {
        let calendar = Calendar.utc
        func month(_ date: Date) -> Int {
            let parts = calendar.dateComponents([.year, .month], from: date)
            return parts.year! * 12 + parts.month!
        }
        let needed = Set(month(from)...month(to))
        guard !needed.isSubset(of: partitionMonths.withLock({ $0 })) else { return }
        try await database.withTransaction { connection in
            try await connection.query("SELECT ensure_event_partitions(\(from), \(to))", logger: database.logger)
        }
        partitionMonths.withLock { $0.formUnion(needed) }
    }

    /// Runs a batch again when it lost a deadlock or serialization race: the
    /// failed attempt rolled back whole, so the retry is safe.
    private func retryingConflicts<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let error as DomainError where error.code == .conflict && attempt < 2 {
                attempt += 1
                database.logger.debug("retrying an ingest batch after a conflict", metadata: ["attempt": "\(attempt)"])
            }
        }
    }

    // MARK: Events

    /// Appends events (and their rollups); duplicates of seen message ids are skipped.
    /// `committed` is what it wrote, for the audience engine to apply at once (nil when
    /// nothing new was written).
    public func ingestEvents(
        _ events: [EventInput], tenant: TenantID, audit: AuditContext
    ) async throws -> (result: IngestResult, committed: CommittedEvents?) {
        let now = clock()
        // Normalize: default times and ids; keep the first of repeated message ids.
        var seenIDs = Set<String>()
        var batch: [(EventInput, Date, String)] = []
        var inBatchDuplicates = 0
        for event in events {
            let id = event.messageID ?? "gen:" + UUID().uuidString
            guard seenIDs.insert(id).inserted else {
                inBatchDuplicates += 1
                continue
            }
            batch.append((event, event.time ?? now, id))
        }
        let times = batch.map(\.1)
        try await ensurePartitions(from: times.min()!, to: times.max()!)
        let ids = Set(batch.map(\.0.userID))
        let reservation = try await users.reserve(ids, tenant: tenant)
        let typed = events.map { (scope: $0.name, values: $0.properties) }

        let (result, written) = try await retryingConflicts {
            try await database.audited(audit, resource: "tenants/\(tenant)/events") { connection, record in
                let logger = database.logger
                let (indexes, created) = try await users.resolve(ids, reservation: reservation, tenant: tenant, on: connection)
                let stored = try await CatalogTypes.settle(
                    CatalogTypes.pairs(typed), attributes: false, tenant: tenant, on: connection, logger: logger)
                let mismatches = CatalogTypes.mismatches(typed, stored: stored, field: "properties")
                if !mismatches.isEmpty { throw BatchRejected(mismatches) }

                // De-duplicate against every message id seen before.
                var fresh = Set<String>()
                for try await id in try await connection.query(
                    """
                    INSERT INTO event_message_ids (tenant_id, message_id)
                    SELECT \(tenant.rawValue), unnest(\(batch.map(\.2).sorted())::text[])
                    ON CONFLICT DO NOTHING RETURNING message_id
                    """, logger: logger
                ).decode(String.self) {
                    fresh.insert(id)
                }
                let rows = batch.filter { fresh.contains($0.2) }
                let duplicates = inBatchDuplicates + batch.count - rows.count
                var written:
                    (
                        transaction: Int64, rows: [(name: String, time: Date, properties: [String: RuleValue], user: Int64)],
                        created: [Int64: String]
                    )?
                if !rows.isEmpty {
                    let transaction = try await Self.insertEvents(rows, indexes: indexes, tenant: tenant, on: connection, logger: logger)
                    let createdIDs = indexes.filter { created.contains($0.value) }
                    written = (
                        transaction, rows.map { ($0.0.name, $0.1, $0.0.properties, indexes[$0.0.userID]!) },
                        Dictionary(uniqueKeysWithValues: createdIDs.map { ($0.value, $0.key) })
                    )
                }
                record.after = [
                    "accepted": .number(Double(rows.count)), "duplicates": .number(Double(duplicates)),
                    "new_users": .number(Double(created.count)),
                ]
                return (IngestResult(accepted: rows.count, duplicates: duplicates, newUsers: created.count), written.map { ($0, stored) })
            }
        }
        // Typed after the commit: a value the engine cannot take leaves it to the catch-up, and never fails the batch.
        let committed = written.flatMap { written, types in
            (try? CommittedEvents.rows(written.rows, types: types)).map {
                CommittedEvents(
                    tenant: tenant, transaction: written.transaction, events: $0,
                    newUsers: Dictionary(uniqueKeysWithValues: written.created.compactMap { index, id in UInt32(exactly: index).map { ($0, id) } }))
            }
        }
        return (result, committed)
    }

    /// One rollup row's worth of a batch: per event, UTC day and user.
    struct RollupKey: Hashable {
        let name: String
        let day: Int32
        let user: Int64
    }

    struct RollupDelta {
        var count: Int64 = 0
        var first: Date
        var last: Date
        /// Per numeric property: sum, count, min, max.
        var numbers: [String: (s: Double, n: Int64, mn: Double, mx: Double)] = [:]
    }

    /// Inserts events and folds them into the per-day rollups and the catalog
    /// counts, in one statement. The batch's rollup deltas are computed here,
    /// in Swift: aggregating JSON properties in SQL was the largest cost per event.
    /// Returns the writing transaction's id (`xid8`).
    static func insertEvents(
        _ rows: [(EventInput, Date, String)], indexes: [String: Int64], tenant: TenantID,
        on connection: PostgresConnection, logger: Logger
    ) async throws -> Int64 {
        var deltas: [RollupKey: RollupDelta] = [:]
        var catalog: [String: (count: Int64, first: Date, last: Date)] = [:]
        for (event, time, _) in rows {
            let day = Int32((time.timeIntervalSince1970 / 86_400).rounded(.down))
            let key = RollupKey(name: event.name, day: day, user: indexes[event.userID]!)
            var delta = deltas[key] ?? RollupDelta(first: time, last: time)
            delta.count += 1
            delta.first = min(delta.first, time)
            delta.last = max(delta.last, time)
            for (property, value) in event.properties {
                guard case .number(let number) = value else { continue }
                if let current = delta.numbers[property] {
                    delta.numbers[property] = (current.s + number, current.n + 1, min(current.mn, number), max(current.mx, number))
                } else {
                    delta.numbers[property] = (number, 1, number, number)
                }
            }
            deltas[key] = delta
            let seen = catalog[event.name]
            catalog[event.name] = (
                (seen?.count ?? 0) + 1, min(seen?.first ?? time, time), max(seen?.last ?? time, time)
            )
        }
        // Sorted, so concurrent batches lock rollup and catalog rows in the same order (no deadlocks).
        let groups = deltas.sorted { ($0.key.name, $0.key.day, $0.key.user) < ($1.key.name, $1.key.day, $1.key.user) }
        let numbers = groups.map { group -> String in
            guard !group.value.numbers.isEmpty else { return "{}" }
            var out = "{"
            for (index, entry) in group.value.numbers.enumerated() {
                if index > 0 { out += "," }
                JSONText.appendString(entry.key, to: &out)
                let (s, n, mn, mx) = entry.value
                out += ":{\"s\":\(JSONText.number(s)),\"n\":\(n),\"mn\":\(JSONText.number(mn)),\"mx\":\(JSONText.number(mx))}"
            }
            return out + "}"
        }
        let types = catalog.sorted { $0.key < $1.key }
        var transaction: Int64 = 0
        for try await xid in try await connection.query(
            """
            WITH inserted AS (
                INSERT INTO events (tenant_id, time, message_id, user_index, event_name, properties)
                SELECT \(tenant.rawValue), t, m, u, n, p
                FROM unnest(\(rows.map(\.2))::text[], \(rows.map(\.1))::timestamptz[], \(rows.map { indexes[$0.0.userID]! })::int8[],
                            \(rows.map(\.0.name))::text[], \(rows.map(\.0.properties.jsonText))::jsonb[]) AS x(m, t, u, n, p)
                RETURNING 1
            ), rollups AS (
                INSERT INTO event_rollups AS r (tenant_id, event_name, day, user_index, count, first_at, last_at, numbers)
                SELECT \(tenant.rawValue), n, DATE '1970-01-01' + d, u, c, f, l, j
                FROM unnest(\(groups.map(\.key.name))::text[], \(groups.map(\.key.day))::int4[], \(groups.map(\.key.user))::int8[],
                            \(groups.map(\.value.count))::int8[], \(groups.map(\.value.first))::timestamptz[],
                            \(groups.map(\.value.last))::timestamptz[], \(numbers)::jsonb[]) AS x(n, d, u, c, f, l, j)
                ON CONFLICT (tenant_id, event_name, day, user_index) DO UPDATE SET
                    count = r.count + excluded.count,
                    first_at = least(r.first_at, excluded.first_at),
                    last_at = greatest(r.last_at, excluded.last_at),
                    numbers = CASE WHEN excluded.numbers = '{}' THEN r.numbers
                                   WHEN r.numbers = '{}' THEN excluded.numbers
                                   ELSE rollup_numbers_merge(r.numbers, excluded.numbers) END
                RETURNING 1
            )
            INSERT INTO catalog_event_types AS c (tenant_id, event_name, count, first_seen, last_seen)
            SELECT \(tenant.rawValue), n, k, f, l
            FROM unnest(\(types.map(\.key))::text[], \(types.map(\.value.count))::int8[],
                        \(types.map(\.value.first))::timestamptz[], \(types.map(\.value.last))::timestamptz[]) AS x(n, k, f, l)
            ON CONFLICT (tenant_id, event_name) DO UPDATE SET
                count = c.count + excluded.count,
                first_seen = least(c.first_seen, excluded.first_seen),
                last_seen = greatest(c.last_seen, excluded.last_seen)
            RETURNING pg_current_xact_id()::text::int8
            """, logger: logger
        ).decode(Int64.self) {
            transaction = xid
        }
        return transaction
    }

    // MARK: Profiles

    /// Creates or updates profiles; attribute types are enforced against the catalog.
    public func upsertProfiles(
        _ profiles: [ProfileInput], mode: ProfileUpsertMode, removing: [String], tenant: TenantID, audit: AuditContext
    ) async throws -> IngestResult {
        let now = clock()
        // One row per user: later records of the same user win (per attribute when merging).
        var merged: [String: ProfileInput] = [:]
        var order: [String] = []
        for profile in profiles {
            if var existing = merged[profile.userID] {
                if mode == .replace { existing.attributes = [:] }
                existing.attributes.merge(profile.attributes) { $1 }
                existing.lastLocation = profile.lastLocation ?? existing.lastLocation
                merged[profile.userID] = existing
            } else {
                merged[profile.userID] = profile
                order.append(profile.userID)
            }
        }
        let rows = order.map { merged[$0]! }
        let ids = Set(order)
        let reservation = try await users.reserve(ids, tenant: tenant)
        let typed = profiles.map { (scope: "", values: $0.attributes) }
        let limit = limits.attributesPerProfile

        return try await retryingConflicts {
            try await database.audited(audit, resource: "tenants/\(tenant)/profiles") { connection, record in
                let logger = database.logger
                let (indexes, created) = try await users.resolve(ids, reservation: reservation, tenant: tenant, on: connection)
                let stored = try await CatalogTypes.settle(
                    CatalogTypes.pairs(typed), attributes: true, tenant: tenant, on: connection, logger: logger)
                let mismatches = CatalogTypes.mismatches(typed, stored: stored, field: "attributes")
                if !mismatches.isEmpty { throw BatchRejected(mismatches) }

                let userIndexes = rows.map { indexes[$0.userID]! }
                let attributes = rows.map(\.attributes.jsonText)
                let latitudes = rows.map { $0.lastLocation?.latitude ?? .nan }
                let longitudes = rows.map { $0.lastLocation?.longitude ?? .nan }
                let replace = mode == .replace
                var oversized: [Int64] = []
                for try await (index, count) in try await connection.query(
                    """
                    INSERT INTO profiles AS p (tenant_id, user_index, attributes, last_latitude, last_longitude, last_location_at)
                    SELECT \(tenant.rawValue), u, a, NULLIF(lat, 'NaN'), NULLIF(lon, 'NaN'), CASE WHEN lat = 'NaN' THEN NULL ELSE \(now) END
                    FROM unnest(\(userIndexes)::int8[], \(attributes)::jsonb[], \(latitudes)::float8[], \(longitudes)::float8[]) AS x(u, a, lat, lon)
                    ON CONFLICT (tenant_id, user_index) DO UPDATE SET
                        attributes = CASE WHEN \(replace) THEN excluded.attributes
                                          ELSE (p.attributes || excluded.attributes) - \(removing)::text[] END,
                        last_latitude = coalesce(excluded.last_latitude, p.last_latitude),
                        last_longitude = coalesce(excluded.last_longitude, p.last_longitude),
                        last_location_at = coalesce(excluded.last_location_at, p.last_location_at),
                        updated_at = now()
                    RETURNING user_index, (SELECT count(*)::int FROM jsonb_object_keys(p.attributes))
                    """, logger: logger
                ).decode((Int64, Int).self) where count > limit {
                    oversized.append(index)
                }
                if !oversized.isEmpty {
                    let positions = Dictionary(rows.enumerated().map { (indexes[$0.element.userID]!, $0.offset) }) { first, _ in first }
                    throw BatchRejected(
                        oversized.map {
                            RecordViolation(
                                index: positions[$0] ?? -1, field: "attributes", reason: "the profile would have more than \(limit) attributes")
                        },
                        overLimit: true)
                }
                // Catalog counts: values received per attribute.
                var counts: [String: Int64] = [:]
                for profile in profiles { for key in profile.attributes.keys { counts[key, default: 0] += 1 } }
                if !counts.isEmpty {
                    try await connection.query(
                        """
                        UPDATE catalog_attributes c SET count = c.count + x.n, last_seen = now()
                        FROM unnest(\(Array(counts.keys))::text[], \(Array(counts.values))::int8[]) AS x(k, n)
                        WHERE c.attribute = x.k
                        """, logger: logger)
                }
                record.after = ["accepted": .number(Double(rows.count)), "new_users": .number(Double(created.count))]
                return IngestResult(accepted: rows.count, duplicates: 0, newUsers: created.count)
            }
        }
    }

    // MARK: Campaign responses

    /// Records responses; the same (user, campaign, kind, time) twice is stored once.
    public func recordResponses(_ responses: [ResponseInput], tenant: TenantID, audit: AuditContext) async throws -> IngestResult {
        let now = clock()
        let ids = Set(responses.map(\.userID))
        let reservation = try await users.reserve(ids, tenant: tenant)
        return try await retryingConflicts {
            try await database.audited(audit, resource: "tenants/\(tenant)/responses") { connection, record in
                let logger = database.logger
                let (indexes, created) = try await users.resolve(ids, reservation: reservation, tenant: tenant, on: connection)
                let userIndexes = responses.map { indexes[$0.userID]! }
                let campaigns = responses.map(\.campaignID)
                let kinds = responses.map(\.kind.rawValue)
                let times = responses.map { $0.time ?? now }
                var accepted = 0
                for try await count in try await connection.query(
                    """
                    WITH inserted AS (
                        INSERT INTO campaign_responses (tenant_id, user_index, campaign_id, kind, time)
                        SELECT \(tenant.rawValue), u, c, k, t
                        FROM unnest(\(userIndexes)::int8[], \(campaigns)::text[], \(kinds)::text[], \(times)::timestamptz[]) AS x(u, c, k, t)
                        ON CONFLICT DO NOTHING
                        RETURNING campaign_id, kind, time
                    ), counted AS (
                        INSERT INTO campaigns AS c (tenant_id, campaign_id, first_send_at, last_seen_at, received, opened, clicked, converted)
                        SELECT \(tenant.rawValue), campaign_id, min(time) FILTER (WHERE kind = 'received'), max(time),
                               count(*) FILTER (WHERE kind = 'received'), count(*) FILTER (WHERE kind = 'opened'),
                               count(*) FILTER (WHERE kind = 'clicked'), count(*) FILTER (WHERE kind = 'converted')
                        FROM inserted GROUP BY campaign_id
                        ON CONFLICT (tenant_id, campaign_id) DO UPDATE SET
                            first_send_at = least(c.first_send_at, excluded.first_send_at),
                            last_seen_at = greatest(c.last_seen_at, excluded.last_seen_at),
                            received = c.received + excluded.received, opened = c.opened + excluded.opened,
                            clicked = c.clicked + excluded.clicked, converted = c.converted + excluded.converted
                        RETURNING 1
                    )
                    SELECT count(*)::int FROM inserted
                    """, logger: logger
                ).decode(Int.self) {
                    accepted = count
                }
                record.after = ["accepted": .number(Double(accepted)), "duplicates": .number(Double(responses.count - accepted))]
                return IngestResult(accepted: accepted, duplicates: responses.count - accepted, newUsers: created.count)
            }
        }
    }

    // MARK: Locations

    /// Records locations and moves each user's last location forward.
    public func recordLocations(_ locations: [LocationInput], tenant: TenantID, audit: AuditContext) async throws -> IngestResult {
        let now = clock()
        let ids = Set(locations.map(\.userID))
        let reservation = try await users.reserve(ids, tenant: tenant)
        return try await retryingConflicts {
            try await database.audited(audit, resource: "tenants/\(tenant)/locations") { connection, record in
                let logger = database.logger
                let (indexes, created) = try await users.resolve(ids, reservation: reservation, tenant: tenant, on: connection)
                let userIndexes = locations.map { indexes[$0.userID]! }
                let latitudes = locations.map(\.latitude)
                let longitudes = locations.map(\.longitude)
                let times = locations.map { $0.time ?? now }
                var accepted = 0
                for try await count in try await connection.query(
                    """
                    WITH inserted AS (
                        INSERT INTO locations (tenant_id, user_index, time, latitude, longitude)
                        SELECT \(tenant.rawValue), u, t, la, lo
                        FROM unnest(\(userIndexes)::int8[], \(times)::timestamptz[], \(latitudes)::float8[], \(longitudes)::float8[]) AS x(u, t, la, lo)
                        ON CONFLICT DO NOTHING
                        RETURNING user_index, time, latitude, longitude
                    ), latest AS (
                        SELECT DISTINCT ON (user_index) user_index, time, latitude, longitude FROM inserted ORDER BY user_index, time DESC
                    ), moved AS (
                        INSERT INTO profiles AS p (tenant_id, user_index, last_latitude, last_longitude, last_location_at)
                        SELECT \(tenant.rawValue), user_index, latitude, longitude, time FROM latest
                        ON CONFLICT (tenant_id, user_index) DO UPDATE SET
                            last_latitude = excluded.last_latitude, last_longitude = excluded.last_longitude,
                            last_location_at = excluded.last_location_at
                        WHERE p.last_location_at IS NULL OR p.last_location_at < excluded.last_location_at
                        RETURNING 1
                    )
                    SELECT count(*)::int FROM inserted
                    """, logger: logger
                ).decode(Int.self) {
                    accepted = count
                }
                record.after = ["accepted": .number(Double(accepted))]
                return IngestResult(accepted: accepted, duplicates: locations.count - accepted, newUsers: created.count)
            }
        }
    }
}

extension Calendar {
    /// The Gregorian calendar in UTC.
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
