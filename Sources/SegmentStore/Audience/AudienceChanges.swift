import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// The record of changes to tenants' rule data that keeps the audience engine's
/// states current in every process.
///
/// Statement triggers record each statement that changes users, events,
/// profiles, responses or tags, with its transaction and the users it touched
/// (`audience_changes`, migrations 14 and 15), and send a NOTIFY on
/// ``channel`` when it commits. A change is "since" a state's snapshot when its
/// transaction is not visible in it (``AudienceCatchUp``): exact whatever order
/// transactions commit in, which a sequence number is not.
public enum AudienceChanges {
    /// The NOTIFY channel; the payload is the tenant id.
    public static let channel = "segmentd_audience"

    /// How long the record of a change is kept; a state loaded longer ago counts as stale.
    public static let retention: TimeInterval = 86_400

    /// Calls `changed` with the tenant of each change committed by any process,
    /// until the task is cancelled. Holds one pooled connection while it listens.
    public static func listen(database: Database, _ changed: @Sendable (TenantID) async -> Void) async throws {
        try await database.withConnection { connection in
            try await connection.listen(on: channel) { notifications in
                for try await notification in notifications {
                    if let tenant = TenantID(notification.payload) { await changed(tenant) }
                }
            }
        }
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
