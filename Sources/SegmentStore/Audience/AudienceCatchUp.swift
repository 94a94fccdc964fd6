import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentRules

/// What changed in a tenant's rule data since a database snapshot, read in one
/// newer snapshot: the users the changes touched, each read again whole (or
/// known gone). The audience engine applies it to a loaded state instead of
/// loading the tenant again.
///
/// Exact whatever order transactions commit in: a change is "since" when its
/// transaction is not visible in the old snapshot and is visible in the new
/// one, and the touched users' rows are read in that same new snapshot, so a
/// batch is in the result whole or not at all.
public struct AudienceCatchUp: Sendable {
    /// When the new snapshot was taken (database clock).
    public var takenAt: Date
    /// The new snapshot (`pg_snapshot` text).
    public var databaseSnapshot: String
    /// True when a change does not say which users it touched (written before
    /// migration 15): the state cannot be patched and must be loaded again.
    public var unknownUsers = false
    /// Every touched user that exists now, with their external id and facts.
    public var users: [UInt32: (externalID: String, facts: UserFacts)] = [:]
    /// Touched users that no longer exist.
    public var removed: [UInt32] = []

    /// Whether anything changed.
    public var isEmpty: Bool { !unknownUsers && users.isEmpty && removed.isEmpty }

    /// Reads what changed for `tenant` since `snapshot`.
    public static func read(tenant: TenantID, since snapshot: String, database: Database) async throws -> AudienceCatchUp {
        let logger = database.logger
        return try await database.withTenantSnapshot(tenant) { connection in
            var catchUp = AudienceCatchUp(takenAt: Date(), databaseSnapshot: "")
            var touched: [Int64] = []
            for try await (now, current, unknown, users) in try await connection.query(
                """
                WITH changed AS (
                    SELECT users FROM audience_changes
                    WHERE xid >= pg_snapshot_xmin(\(snapshot)::pg_snapshot) AND NOT pg_visible_in_snapshot(xid, \(snapshot)::pg_snapshot))
                SELECT now(), pg_current_snapshot()::text, EXISTS (SELECT 1 FROM changed WHERE users IS NULL),
                    ARRAY(SELECT DISTINCT u FROM changed, unnest(changed.users) AS u ORDER BY u)
                """, logger: logger
            ).decode((Date, String, Bool, [Int64]).self) {
                catchUp.takenAt = now
                catchUp.databaseSnapshot = current
                catchUp.unknownUsers = unknown
                touched = users
            }
            guard !catchUp.unknownUsers, !touched.isEmpty else { return catchUp }
            var externalIDs: [Int64: String] = [:]
            for try await (index, externalID) in try await connection.query(
                "SELECT user_index, external_id FROM users WHERE user_index = ANY(\(touched))", logger: logger
            ).decode((Int64, String).self) {
                externalIDs[index] = externalID
            }
            let catalog = try await RuleStore.catalog(on: connection, logger: logger)
            // Memberships are not read: the refresh gives the evaluator the referenced segments' members.
            let facts = try await UserFactsLoader(catalog: catalog, logger: logger).load(touched, memberships: false, on: connection).facts
            for index in touched {
                guard let user = UInt32(exactly: index), user < UInt32.max else {
                    throw DomainError(.limitExceeded, "the tenant has more users than the audience engine holds (\(UInt32.max))")
                }
                if let externalID = externalIDs[index], let userFacts = facts[index] {
                    catchUp.users[user] = (externalID, userFacts)
                } else {
                    catchUp.removed.append(user)
                }
            }
            return catchUp
        }
    }
}
