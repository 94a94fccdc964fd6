import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentRules

/// What changed in a tenant's rule data since a database snapshot, read in one
/// newer snapshot: the users the changes touched, each read again (or known
/// gone). The audience engine applies it to a loaded state instead of loading
/// the tenant again.
///
/// Exact whatever order transactions commit in: a change is "since" when its
/// transaction is not visible in the old snapshot and is visible in the new
/// one, and the touched users' rows are read in that same new snapshot, so a
/// batch is in the result whole or not at all.
///
/// A user whose events the state already holds whole (``read(tenant:since:holding:database:)``'s
/// `held`) gets only the events the new transactions inserted, when they all come
/// after the last one held (events are only ever inserted, and deleted only with
/// their user): ingest costs its own rows, not every touched user's history.
/// Profiles, tags and responses are small and read whole.
public struct AudienceCatchUp: Sendable {
    /// When the new snapshot was taken (database clock).
    public var takenAt: Date
    /// The new snapshot (`pg_snapshot` text).
    public var databaseSnapshot: String
    /// True when a change does not say which users it touched (written before
    /// migration 15): the state cannot be patched and must be loaded again.
    public var unknownUsers = false
    /// Every touched user that exists now, with their external id and facts. For a user in
    /// ``appendedEvents`` the facts carry no events: theirs are the held ones followed by those.
    public var users: [UInt32: (externalID: String, facts: UserFacts)] = [:]
    /// Users whose events are the ones held followed by these (in time order, each after the last held).
    public var appendedEvents: [UInt32: [UserEvent]] = [:]
    /// Touched users that no longer exist.
    public var removed: [UInt32] = []

    /// Whether anything changed.
    public var isEmpty: Bool { !unknownUsers && users.isEmpty && removed.isEmpty }

    /// Reads what changed for `tenant` since `snapshot`. `held` is what the state holds
    /// whole per user (the overlay): their new events are appended instead of read again.
    /// `applied` are the changes the state already holds beyond its snapshot (ingest batches
    /// this process applied as they committed, ``CommittedEvents``): they are not read again.
    public static func read(
        tenant: TenantID, since snapshot: String, holding held: [UInt32: UserFacts] = [:], applied: Set<TransactionUser> = [],
        database: Database
    ) async throws -> AudienceCatchUp {
        let logger = database.logger
        return try await database.withTenantSnapshot(tenant) { connection in
            var catchUp = AudienceCatchUp(takenAt: Date(), databaseSnapshot: "")
            var touched: [Int64] = []
            var transactions: [Int64] = []
            for try await (now, current, unknown, changedXIDs, changedUsers) in try await connection.query(
                """
                WITH changed AS (
                    SELECT xid, users FROM audience_changes
                    WHERE xid >= pg_snapshot_xmin(\(snapshot)::pg_snapshot) AND NOT pg_visible_in_snapshot(xid, \(snapshot)::pg_snapshot))
                SELECT now(), pg_current_snapshot()::text, EXISTS (SELECT 1 FROM changed WHERE users IS NULL),
                    ARRAY(SELECT c.xid::text::bigint FROM changed c, unnest(c.users) AS u ORDER BY 1, u),
                    ARRAY(SELECT u FROM changed c, unnest(c.users) AS u ORDER BY c.xid::text::bigint, u)
                """, logger: logger
            ).decode((Date, String, Bool, [Int64], [Int64]).self) {
                catchUp.takenAt = now
                catchUp.databaseSnapshot = current
                catchUp.unknownUsers = unknown
                // A user is touched by a change the state does not hold yet.
                var users = Set<Int64>()
                for (xid, user) in zip(changedXIDs, changedUsers) {
                    if let index = UInt32(exactly: user), applied.contains(TransactionUser(transaction: xid, user: index)) { continue }
                    users.insert(user)
                }
                touched = users.sorted()
                transactions = Array(Set(changedXIDs.map { $0 % 4_294_967_296 }))
            }
            guard !catchUp.unknownUsers, !touched.isEmpty else { return catchUp }
            var externalIDs: [Int64: String] = [:]
            for try await (index, externalID) in try await connection.query(
                "SELECT user_index, external_id FROM users WHERE user_index = ANY(\(touched))", logger: logger
            ).decode((Int64, String).self) {
                externalIDs[index] = externalID
            }
            let catalog = try await RuleStore.catalog(on: connection, logger: logger)
            let loader = UserFactsLoader(catalog: catalog, logger: logger)
            // Users held whole get their new events appended, unless one is not after the last held
            // (an event arriving late, or at the same instant: its order among equals is the message id's).
            var appendable = touched.filter { index in UInt32(exactly: index).map { held[$0] != nil } ?? false }
            let appended = try await loader.newEvents(
                of: appendable, insertedBy: transactions, excluding: Set(applied.map(\.rowKey)),
                on: connection)
            appendable.removeAll { index in
                guard let events = appended[index], let first = events.first else { return false }
                guard let last = held[UInt32(index)]?.events.last else { return false }
                return first.time <= last.time
            }
            let appendSet = Set(appendable)
            let whole = touched.filter { !appendSet.contains($0) }
            // Memberships are not read: the refresh gives the evaluator the referenced segments' members.
            var facts = try await loader.load(whole, memberships: false, on: connection).facts
            if !appendable.isEmpty {
                facts.merge(try await loader.load(appendable, events: false, memberships: false, on: connection).facts) { $1 }
            }
            for index in touched {
                guard let user = UInt32(exactly: index), user < UInt32.max else {
                    throw DomainError(.limitExceeded, "the tenant has more users than the audience engine holds (\(UInt32.max))")
                }
                if let externalID = externalIDs[index], let userFacts = facts[index] {
                    catchUp.users[user] = (externalID, userFacts)
                    if appendSet.contains(index) { catchUp.appendedEvents[user] = appended[index] ?? [] }
                } else {
                    catchUp.removed.append(user)
                }
            }
            return catchUp
        }
    }
}
