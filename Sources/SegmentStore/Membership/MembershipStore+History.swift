import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// Membership at an instant in the past, from the change log.
///
/// Every write numbers itself (`segments.member_version`) and logs its changes
/// under that number with the instant they took effect, so the membership at
/// time T is the one of the last version whose changes took effect by T: the
/// version before the first one logged after T (or the current one). A user's
/// membership at that version is their membership now unless it changed after
/// it; then it is the opposite of the first such change. T must be within the
/// change log's retention: the changes after T must all still be kept.
extension MembershipStore {
    /// Whether each user was in each segment at `time` (and since when, when the log or the
    /// membership row says). OUT_OF_RANGE when the log no longer keeps what happened since `time`.
    public func check(tenant: TenantID, userIDs: [String], segmentIDs: [String], at time: Date) async throws -> [String: [SegmentMembership]] {
        let found = try await database.withTenant(tenant) { connection in
            let logger = database.logger
            try await Self.requireSegments(segmentIDs, tenant: tenant, on: connection, logger: logger)
            try await Self.requireKept(time, on: connection, logger: logger)
            var found: [String: [String: SegmentMembership]] = [:]
            for try await (user, segment, kept, firstAfter, current, lastEntry) in try await connection.query(
                """
                WITH v AS (
                    SELECT s.segment_id, s.member_changes_from,
                           coalesce((SELECT min(c.version) - 1 FROM membership_changes c
                                     WHERE c.segment_id = s.segment_id AND c.effective_at > \(time)), s.member_version) AS version
                    FROM segments s WHERE s.segment_id = ANY(\(segmentIDs))
                )
                SELECT u.external_id, v.segment_id, v.version >= v.member_changes_from, f.entered, m.entered_at, l.effective_at
                FROM users u CROSS JOIN v
                LEFT JOIN LATERAL (
                    SELECT c.entered FROM membership_changes c
                    WHERE c.segment_id = v.segment_id AND c.user_index = u.user_index AND c.version > v.version
                    ORDER BY c.version LIMIT 1
                ) f ON true
                LEFT JOIN segment_members m ON m.tenant_id = u.tenant_id AND m.segment_id = v.segment_id AND m.user_index = u.user_index
                LEFT JOIN LATERAL (
                    SELECT c.effective_at FROM membership_changes c
                    WHERE c.segment_id = v.segment_id AND c.user_index = u.user_index AND c.version <= v.version AND c.entered
                    ORDER BY c.version DESC LIMIT 1
                ) l ON true
                WHERE u.external_id = ANY(\(userIDs))
                """, logger: logger
            ).decode((String, String, Bool, Bool?, Date?, Date?).self) {
                guard kept else { throw Self.notKept(time) }
                // A change after the instant says the opposite held then; without one, it is as now.
                let member = firstAfter.map { !$0 } ?? (current != nil)
                let entered = member ? (lastEntry ?? (firstAfter == nil ? current : nil)) : nil
                found[user, default: [:]][segment] = SegmentMembership(segmentID: segment, member: member, enteredAt: entered)
            }
            return found
        }
        var result: [String: [SegmentMembership]] = [:]
        for user in userIDs {
            result[user] = segmentIDs.map { found[user]?[$0] ?? SegmentMembership(segmentID: $0, member: false, enteredAt: nil) }
        }
        return result
    }

    /// The segment's membership as it was at `time`: the version then and its size.
    /// OUT_OF_RANGE when the log no longer keeps what happened since.
    public func memberSnapshot(tenant: TenantID, segmentID: String, at time: Date) async throws -> MemberSnapshot {
        try await database.withTenant(tenant) { connection in
            try await Self.requireKept(time, on: connection, logger: database.logger)
            for try await (version, keptFrom, current) in try await connection.query(
                """
                SELECT coalesce((SELECT min(c.version) - 1 FROM membership_changes c
                                 WHERE c.segment_id = s.segment_id AND c.effective_at > \(time)), s.member_version),
                       s.member_changes_from,
                       (SELECT count(*) FROM segment_members m WHERE m.segment_id = s.segment_id)::int8
                FROM segments s WHERE s.segment_id = \(segmentID) AND s.deleted_at IS NULL
                """, logger: database.logger
            ).decode((Int64, Int64, Int64).self) {
                guard version >= keptFrom else { throw Self.notKept(time) }
                // Undo the changes since: of the users who changed, each first change says whether they
                // were in then (an exit: they were), each last whether they are in now (an entry: they are).
                var undone: Int64 = 0
                for try await difference in try await connection.query(
                    """
                    SELECT (count(*) FILTER (WHERE NOT f.first_entered) - count(*) FILTER (WHERE f.last_entered))::int8 FROM (
                        SELECT (array_agg(c.entered ORDER BY c.version))[1] AS first_entered,
                               (array_agg(c.entered ORDER BY c.version DESC))[1] AS last_entered
                        FROM membership_changes c WHERE c.segment_id = \(segmentID) AND c.version > \(version)
                        GROUP BY c.user_index
                    ) f
                    """, logger: database.logger
                ).decode(Int64.self) { undone = difference }
                return MemberSnapshot(segmentID: segmentID, version: version, total: current + undone, time: time)
            }
            throw DomainError(.notFound, "tenants/\(tenant)/segments/\(segmentID) not found")
        }
    }

    /// OUT_OF_RANGE when a change that took effect at or after `time` has been pruned.
    static func requireKept(_ time: Date, on connection: PostgresConnection, logger: Logger) async throws {
        for try await pruned in try await connection.query(
            "SELECT pruned_through FROM membership_change_positions", logger: logger
        ).decode(Date?.self) {
            if let pruned, time <= pruned { throw notKept(time) }
        }
    }

    static func notKept(_ time: Date) -> DomainError {
        DomainError(
            .outOfRange,
            "the change log no longer keeps every change since \(time.formatted(.iso8601)) (its retention); ask about a later time",
            violations: [.init(field: "at_time", problem: "within the change log's retention")])
    }
}
