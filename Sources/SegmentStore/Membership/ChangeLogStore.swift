import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// The membership change log's upkeep: its monthly partitions, made ahead, and
/// its retention (migration 17; the rows are appended by ``ChangeLog``).
public struct ChangeLogStore: Sendable {
    let database: Database
    /// How long a change is kept, by the wall clock (rows are stamped with the database's time).
    public let retention: Duration

    public init(database: Database, retention: Duration) {
        self.database = database
        self.retention = retention
    }

    /// Makes the partitions from the retention (at most a month) back to three months
    /// ahead of `now` (the time the database stamps rows with, so a wall clock).
    /// Outside a membership write: attaching briefly locks the default partition.
    public func preparePartitions(now: Date = Date()) async throws {
        let from = now.addingTimeInterval(-min(31 * 86_400, retention.seconds))
        try await database.withTransaction { connection in
            try await connection.query(
                "SELECT ensure_change_partitions(\(from), \(now.addingTimeInterval(92 * 86_400)))", logger: database.logger)
        }
    }

    /// What one pass of ``prune(now:)`` removed.
    public struct Pruned: Sendable, Equatable {
        /// Monthly partitions dropped whole.
        public var partitions: Int
        /// Rows deleted from the partitions that remain.
        public var rows: Int

        public init(partitions: Int, rows: Int) {
            self.partitions = partitions
            self.rows = rows
        }
    }

    /// Removes changes written before `now - retention` (wall clock, as the rows
    /// are stamped), for every tenant: whole months are dropped, older rows of the
    /// rest deleted. Segments whose older versions lost their changes move their
    /// `member_changes_from` up, so a member stream that began at such a version
    /// is told to start again instead of paging a wrong membership. Makes the
    /// coming months' partitions too.
    public func prune(now: Date = Date()) async throws -> Pruned {
        try await preparePartitions(now: now)
        let cutoff = now.addingTimeInterval(-retention.seconds)
        let logger = database.logger
        let tenants = try await database.asJobWorker { connection in
            var tenants: [TenantID] = []
            for try await id in try await connection.query(
                "SELECT DISTINCT tenant_id FROM membership_changes WHERE written_at < \(cutoff)", logger: logger
            ).decode(String.self) {
                if let tenant = TenantID(id) { tenants.append(tenant) }
            }
            return tenants
        }
        // First the segments stop offering the versions about to lose their changes (each keeps
        // complete changes from its oldest remaining version on), then the rows go.
        for tenant in tenants {
            try await database.withTenant(tenant) { connection in
                try await connection.query(
                    """
                    UPDATE membership_change_positions SET pruned_through = greatest(pruned_through,
                        (SELECT max(effective_at) FROM membership_changes WHERE written_at < \(cutoff)))
                    """, logger: logger)
                try await connection.query(
                    """
                    UPDATE segments s SET member_changes_from = greatest(s.member_changes_from,
                        coalesce((SELECT min(c.version) - 1 FROM membership_changes c
                                  WHERE c.segment_id = s.segment_id AND c.written_at >= \(cutoff)), s.member_version))
                    WHERE EXISTS (SELECT 1 FROM membership_changes c WHERE c.segment_id = s.segment_id AND c.written_at < \(cutoff))
                    """, logger: logger)
            }
        }
        return try await database.asJobWorker { connection in
            var pruned = Pruned(partitions: 0, rows: 0)
            for try await dropped in try await connection.query("SELECT drop_change_partitions(\(cutoff))", logger: logger).decode(Int.self) {
                pruned.partitions = dropped
            }
            for try await deleted in try await connection.query(
                """
                WITH gone AS (DELETE FROM membership_changes WHERE written_at < \(cutoff) RETURNING 1)
                SELECT count(*)::int FROM gone
                """, logger: logger
            ).decode(Int.self) { pruned.rows = deleted }
            return pruned
        }
    }
}

// MARK: Reading

extension ChangeLogStore {
    /// The NOTIFY channel of committed appends; the payload is the tenant id.
    static let channel = "segmentd_changes"

    /// Up to `limit` changes of `tenant` after `position`, of `segments` only when
    /// given, read in one statement with the tenant's latest position (so a short page
    /// says the reader has seen everything up to it).
    public func page(tenant: TenantID, after position: Int64, segments: [String]?, limit: Int) async throws -> ChangePage {
        try await database.withTenant(tenant) { connection in
            var changes: [LoggedChange] = []
            var latest: Int64 = 0
            for try await (last, row, segment, user, entered, effective, cause, job) in try await connection.query(
                """
                SELECT p.last, c.position, c.segment_id, u.external_id, c.entered, c.effective_at, c.cause, c.job_id
                FROM (SELECT coalesce((SELECT last_position FROM membership_change_positions), 0) AS last) p
                LEFT JOIN LATERAL (
                    SELECT * FROM membership_changes c
                    WHERE c.position > \(position) AND (\(segments == nil) OR c.segment_id = ANY(\(segments ?? [])))
                    ORDER BY c.position LIMIT \(Int64(limit))
                ) c ON true
                LEFT JOIN users u ON u.tenant_id = c.tenant_id AND u.user_index = c.user_index
                ORDER BY c.position
                """, logger: database.logger
            ).decode((Int64, Int64?, String?, String?, Bool?, Date?, String?, Int64?).self) {
                latest = last
                guard let row, let segment, let entered, let effective, let cause = cause.flatMap(MembershipChangeCause.init(rawValue:))
                else { continue }
                changes.append(
                    LoggedChange(
                        position: row, segmentID: segment, userID: user, entered: entered, effectiveAt: effective, cause: cause, jobID: job))
            }
            let seen = changes.count == limit ? changes[changes.count - 1].position : max(latest, position)
            return ChangePage(changes: changes, seenThrough: seen)
        }
    }

    /// The tenant's oldest position still in the log (the latest + 1 when the log holds
    /// none of its changes) and its latest.
    public func bounds(tenant: TenantID) async throws -> (oldest: Int64, latest: Int64) {
        try await database.withTenant(tenant) { connection in
            var bounds: (oldest: Int64, latest: Int64) = (1, 0)
            for try await (oldest, latest) in try await connection.query(
                """
                SELECT (SELECT min(position) FROM membership_changes),
                       coalesce((SELECT last_position FROM membership_change_positions), 0)
                """, logger: database.logger
            ).decode((Int64?, Int64).self) {
                bounds = (oldest ?? latest + 1, latest)
            }
            return bounds
        }
    }

    /// The position a watch from `time` starts after: the last before the first change
    /// written at or after `time` (the latest when there is none). Nil when `time` is
    /// before the retention and changes have been pruned: some written since may be gone.
    public func position(before time: Date, tenant: TenantID) async throws -> Int64? {
        try await database.withTenant(tenant) { connection in
            var after: Int64?
            for try await (first, oldest, latest) in try await connection.query(
                """
                SELECT (SELECT min(position) FROM membership_changes WHERE written_at >= \(time)),
                       (SELECT min(position) FROM membership_changes),
                       coalesce((SELECT last_position FROM membership_change_positions), 0)
                """, logger: database.logger
            ).decode((Int64?, Int64?, Int64).self) {
                let pruned = (oldest ?? latest + 1) > 1 && time < Date().addingTimeInterval(-retention.seconds)
                after = pruned ? nil : first.map { $0 - 1 } ?? latest
            }
            return after
        }
    }

    /// Calls `changed` with the tenant of each committed append (any process), after
    /// `listening` once LISTEN is in effect, until cancelled. Holds one pooled connection.
    public func listen(listening: @Sendable () -> Void, changed: @Sendable (String) -> Void) async throws {
        try await database.withConnection { connection in
            try await connection.listen(on: Self.channel) { notifications in
                listening()
                for try await notification in notifications { changed(notification.payload) }
            }
        }
    }
}
