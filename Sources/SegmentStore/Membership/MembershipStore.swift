import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// Who is in which segment, as of each segment's last refresh (a paused
/// segment answers with its last membership).
public struct MembershipStore: Sendable {
    let database: Database
    let clock: @Sendable () -> Date

    public init(database: Database, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.clock = clock
    }

    /// Checks that the segments exist (not deleted); NOT_FOUND naming the first that does not.
    static func requireSegments(_ ids: [String], tenant: TenantID, on connection: PostgresConnection, logger: Logger) async throws {
        var found = Set<String>()
        for try await id in try await connection.query(
            "SELECT segment_id FROM segments WHERE segment_id = ANY(\(ids)) AND deleted_at IS NULL", logger: logger
        ).decode(String.self) { found.insert(id) }
        if let missing = ids.first(where: { !found.contains($0) }) {
            throw DomainError(.notFound, "tenants/\(tenant)/segments/\(missing) not found")
        }
    }

    /// Each user's membership in each segment (users never seen are members of
    /// nothing): from the member sets in memory when they are held, else from
    /// the database (and the sets are loaded for the next check).
    public func check(tenant: TenantID, userIDs: [String], segmentIDs: [String]) async throws -> [String: [SegmentMembership]] {
        let cache = database.memberSets
        if let answer = cache.answer(tenant: tenant, userIDs: userIDs, segmentIDs: segmentIDs) { return answer }
        let usersTicket = cache.usersTicket(tenant)
        let (indexes, entered) = try await database.withTenant(tenant) { connection in
            let logger = database.logger
            try await Self.requireSegments(segmentIDs, tenant: tenant, on: connection, logger: logger)
            var indexes: [String: Int64] = [:]
            var entered: [String: [String: Date]] = [:]
            for try await (user, index, segment, time) in try await connection.query(
                """
                SELECT u.external_id, u.user_index, m.segment_id, m.entered_at FROM users u
                LEFT JOIN segment_members m ON m.tenant_id = u.tenant_id AND m.user_index = u.user_index
                    AND m.segment_id = ANY(\(segmentIDs))
                WHERE u.external_id = ANY(\(userIDs))
                """, logger: logger
            ).decode((String, Int64, String?, Date?).self) {
                indexes[user] = index
                if let segment, let time { entered[user, default: [:]][segment] = time }
            }
            return (indexes, entered)
        }
        cache.noteUsers(tenant: tenant, indexes, ticket: usersTicket)
        var result: [String: [SegmentMembership]] = [:]
        for user in userIDs {
            result[user] = segmentIDs.map { SegmentMembership(segmentID: $0, member: entered[user]?[$0] != nil, enteredAt: entered[user]?[$0]) }
        }
        return result
    }

    /// Segments a user's segments are answered from memory for, at most (past it, one
    /// indexed query by user is cheaper than looking in every set).
    static let maxSegmentsFromMemory = 1000

    /// Every segment the user is in; NOT_FOUND for an unknown user. From the member sets
    /// in memory when the tenant's live segments (listed first, one small query) and the
    /// user are all held; from the database otherwise.
    public func segments(tenant: TenantID, userID: String) async throws -> [SegmentMembership] {
        let cache = database.memberSets
        return try await database.withTenant(tenant) { connection in
            var live: [String] = []
            // Listed only when the sets could answer (the cache is on and listening).
            if cache.isServing {
                for try await id in try await connection.query(
                    "SELECT segment_id FROM segments WHERE deleted_at IS NULL ORDER BY segment_id LIMIT \(Self.maxSegmentsFromMemory + 1)",
                    logger: database.logger
                ).decode(String.self) { live.append(id) }
            }
            if live.count <= Self.maxSegmentsFromMemory, !live.isEmpty,
                let memberships = cache.answer(tenant: tenant, userIDs: [userID], segmentIDs: live)?[userID]
            {
                return memberships.filter(\.member)
            }
            var index: Int64?
            for try await found in try await connection.query(
                "SELECT user_index FROM users WHERE external_id = \(userID)", logger: database.logger
            ).decode(Int64.self) { index = found }
            guard let index else { throw DomainError(.notFound, "tenants/\(tenant)/users/\(userID) not found") }
            var memberships: [SegmentMembership] = []
            for try await (segment, time) in try await connection.query(
                """
                SELECT m.segment_id, m.entered_at FROM segment_members m
                JOIN segments s ON s.tenant_id = m.tenant_id AND s.segment_id = m.segment_id AND s.deleted_at IS NULL
                WHERE m.user_index = \(index) ORDER BY m.segment_id
                """, logger: database.logger
            ).decode((String, Date).self) {
                memberships.append(SegmentMembership(segmentID: segment, member: true, enteredAt: time))
            }
            return memberships
        }
    }

    /// Count, a sample, a breakdown (top values or ranges), the overlap with `other`, and samples of who entered and exited last time.
    public func inspect(
        tenant: TenantID, segmentID: String, sample: Int, breakdown: BreakdownRequest?, other: String?
    ) async throws -> SegmentInspection {
        try await database.withTenant(tenant) { connection in
            let logger = database.logger
            try await Self.requireSegments([segmentID] + (other.map { [$0] } ?? []), tenant: tenant, on: connection, logger: logger)
            var inspection = SegmentInspection()
            for try await count in try await connection.query(
                "SELECT count(*)::int8 FROM segment_members WHERE segment_id = \(segmentID)", logger: logger
            ).decode(Int64.self) { inspection.count = count }
            inspection.sample = try await Self.ids(.members, segmentID, limit: sample, on: connection, logger: logger)
            if let breakdown {
                inspection.breakdown =
                    breakdown.byRanges
                    ? try await Self.rangeBreakdown(breakdown, segmentID: segmentID, on: connection, logger: logger)
                    : try await Self.valueBreakdown(breakdown, segmentID: segmentID, on: connection, logger: logger)
            }
            if let other {
                for try await (both, onlyThis, onlyOther) in try await connection.query(
                    """
                    SELECT count(*) FILTER (WHERE a.user_index IS NOT NULL AND b.user_index IS NOT NULL)::int8,
                           count(*) FILTER (WHERE b.user_index IS NULL)::int8,
                           count(*) FILTER (WHERE a.user_index IS NULL)::int8
                    FROM (SELECT user_index FROM segment_members WHERE segment_id = \(segmentID)) a
                    FULL JOIN (SELECT user_index FROM segment_members WHERE segment_id = \(other)) b ON a.user_index = b.user_index
                    """, logger: logger
                ).decode((Int64, Int64, Int64).self) {
                    inspection.overlap = (both, onlyThis, onlyOther)
                }
            }
            inspection.enteredSample = try await Self.ids(.changes(entered: true), segmentID, limit: sample, on: connection, logger: logger)
            inspection.exitedSample = try await Self.ids(.changes(entered: false), segmentID, limit: sample, on: connection, logger: logger)
            return inspection
        }
    }

    /// The most common values among members, the rest as one "other" row. Lists
    /// count once per item; numbers, booleans and times by their JSON text.
    static func valueBreakdown(
        _ request: BreakdownRequest, segmentID: String, on connection: PostgresConnection, logger: Logger
    ) async throws -> [BreakdownRow] {
        var rows: [BreakdownRow] = []
        for try await (value, count, other) in try await connection.query(
            """
            WITH vals AS (
                SELECT p.attributes -> \(request.attribute) AS j
                FROM segment_members m LEFT JOIN profiles p ON p.tenant_id = m.tenant_id AND p.user_index = m.user_index
                WHERE m.segment_id = \(segmentID)
            ), items AS (
                SELECT jsonb_array_elements_text(j) AS value FROM vals WHERE jsonb_typeof(j) = 'array'
                UNION ALL
                SELECT j #>> '{}' FROM vals WHERE jsonb_typeof(j) IS DISTINCT FROM 'array'
            ), grouped AS (
                SELECT value, count(*)::int8 AS n, row_number() OVER (ORDER BY count(*) DESC, value) AS rank FROM items GROUP BY value
            )
            SELECT value, n, false FROM grouped WHERE rank <= \(Int64(request.limit))
            UNION ALL
            SELECT NULL, sum(n)::int8, true FROM grouped WHERE rank > \(Int64(request.limit)) HAVING count(*) > 0
            ORDER BY 3, 2 DESC, 1
            """, logger: logger
        ).decode((String?, Int64, Bool).self) {
            rows.append(BreakdownRow(other ? .other : value.map { .value($0) } ?? .notSet, count: count))
        }
        return rows
    }

    /// Members by ranges of a number attribute, every range from the lowest value's
    /// to the highest's (empty ones too, so the shape shows), then those without a number.
    static func rangeBreakdown(
        _ request: BreakdownRequest, segmentID: String, on connection: PostgresConnection, logger: Logger
    ) async throws -> [BreakdownRow] {
        var low: Double?
        var high: Double?
        var notSet: Int64 = 0
        for try await (min, max, missing) in try await connection.query(
            """
            SELECT min(v), max(v), count(*) FILTER (WHERE v IS NULL)::int8 FROM (
                SELECT CASE WHEN jsonb_typeof(p.attributes -> \(request.attribute)) = 'number'
                            THEN (p.attributes ->> \(request.attribute))::float8 END AS v
                FROM segment_members m LEFT JOIN profiles p ON p.tenant_id = m.tenant_id AND p.user_index = m.user_index
                WHERE m.segment_id = \(segmentID)
            ) vals
            """, logger: logger
        ).decode((Double?, Double?, Int64).self) {
            (low, high, notSet) = (min, max, missing)
        }
        var rows: [BreakdownRow] = []
        if let low, let high {
            let ranges = BreakdownRanges(low: low, high: high, buckets: request.buckets)
            var counts = [Int64](repeating: 0, count: ranges.count)
            let (start, width, last) = (ranges.start, ranges.width > 0 ? ranges.width : 1, Int64(ranges.count - 1))
            for try await (index, count) in try await connection.query(
                """
                SELECT LEAST(floor((v - \(start)) / \(width))::int8, \(last)), count(*)::int8 FROM (
                    SELECT (p.attributes ->> \(request.attribute))::float8 AS v
                    FROM segment_members m JOIN profiles p ON p.tenant_id = m.tenant_id AND p.user_index = m.user_index
                    WHERE m.segment_id = \(segmentID) AND jsonb_typeof(p.attributes -> \(request.attribute)) = 'number'
                ) vals GROUP BY 1
                """, logger: logger
            ).decode((Int64, Int64).self) where counts.indices.contains(Int(index)) {
                counts[Int(index)] = count
            }
            for (index, count) in counts.enumerated() {
                let (from, to) = ranges.bounds(index)
                rows.append(BreakdownRow(.range(low: from, high: ranges.width > 0 ? to : from, label: ranges.label(index)), count: count))
            }
        }
        if notSet > 0 { rows.append(BreakdownRow(.notSet, count: notSet)) }
        return rows
    }

    /// Where samples come from (constants: identifiers never come from input).
    enum SampleSource {
        case members
        case changes(entered: Bool)
    }

    /// External ids of the first `limit` users (by index) of a segment's members or last changes.
    static func ids(_ source: SampleSource, _ segmentID: String, limit: Int, on connection: PostgresConnection, logger: Logger) async throws
        -> [String]
    {
        var bindings = PostgresBindings()
        bindings.append(segmentID)
        bindings.append(Int64(limit))
        let table: String
        var condition = ""
        switch source {
        case .members: table = "segment_members"
        case .changes(let entered):
            // The last write's changes, from the change log.
            table = "membership_changes"
            bindings.append(entered)
            condition = " AND m.entered = $3 AND m.version = (SELECT s.member_version FROM segments s WHERE s.segment_id = $1)"
        }
        var ids: [String] = []
        for try await id in try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT u.external_id FROM \(table) m JOIN users u ON u.tenant_id = m.tenant_id AND u.user_index = m.user_index
                    WHERE m.segment_id = $1\(condition) ORDER BY m.user_index LIMIT $2
                    """,
                binds: bindings), logger: logger
        ).decode(String.self) {
            ids.append(id)
        }
        return ids
    }
}
