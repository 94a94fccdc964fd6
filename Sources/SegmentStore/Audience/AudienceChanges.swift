import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// Whether a tenant's rule data changed since a database snapshot: the test
/// that lets a refresh use the audience engine's state only when it holds every
/// batch acknowledged before the refresh began.
///
/// Statement triggers record each transaction that changes users, events,
/// profiles, responses or tags (`audience_changes`, migration 14); a change is
/// "since" the snapshot when its transaction is not visible in it. That is exact
/// whatever order transactions commit in, which a sequence number is not.
public enum AudienceChanges {
    /// How long the record of a change is kept; a state loaded longer ago counts as stale.
    public static let retention: TimeInterval = 86_400

    /// Whether the tenant of the transaction (row-level security scopes the table) has
    /// a change committed that `snapshot` does not see.
    public static func changed(since snapshot: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        var changed = true
        for try await value in try await connection.query(
            """
            SELECT EXISTS (
                SELECT 1 FROM audience_changes
                WHERE xid >= pg_snapshot_xmin(\(snapshot)::pg_snapshot) AND NOT pg_visible_in_snapshot(xid, \(snapshot)::pg_snapshot))
            """, logger: logger
        ).decode(Bool.self) {
            changed = value
        }
        return changed
    }

    /// Deletes records older than ``retention``, for every tenant.
    public static func prune(now: Date, database: Database) async throws -> Int {
        try await database.asJobWorker { connection in try await prune(now: now, on: connection, logger: database.logger) }
    }

    static func prune(now: Date, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        var deleted = 0
        for try await count in try await connection.query(
            """
            WITH gone AS (DELETE FROM audience_changes WHERE changed_at < \(now.addingTimeInterval(-retention)) RETURNING 1)
            SELECT count(*)::int FROM gone
            """, logger: logger
        ).decode(Int.self) {
            deleted = count
        }
        return deleted
    }
}
