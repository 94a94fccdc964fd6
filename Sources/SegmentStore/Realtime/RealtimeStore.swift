import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentRules

/// A replica's claim on one tenant's real-time evaluation (migration 18's
/// `realtime_leases` row): only the holder of the current epoch may write
/// real-time membership changes, so an owner that stalled past its expiry and
/// lost the row to another replica cannot append anything after.
public struct RealtimeLease: Sendable, Equatable {
    public var tenant: TenantID
    public var owner: String
    public var epoch: Int64
    public var expiresAt: Date

    public init(tenant: TenantID, owner: String, epoch: Int64, expiresAt: Date) {
        self.tenant = tenant
        self.owner = owner
        self.epoch = epoch
        self.expiresAt = expiresAt
    }
}

/// A rule-based segment kept true continuously.
public struct RealtimeSegmentRow: Sendable, Equatable {
    public var segmentID: String
    public var rule: Rule
    /// The definition revision the rule is from (a new one is evaluated whole).
    public var revision: Int64
}

/// One real-time segment's changes to write: who entered and who exited, each at
/// the instant it took effect, against the member version they were computed from.
public struct RealtimeWrite: Sendable {
    public var segmentID: String
    /// The segment's member version the changes were computed against.
    public var expectedVersion: Int64
    public var changes: [(user: UInt32, entered: Bool, at: Date)]
    /// Set when the segment was evaluated whole at this definition revision: its members
    /// then follow that revision (`refreshed_revision`, what the segment's freshness reads).
    public var evaluatedRevision: Int64?

    public init(
        segmentID: String, expectedVersion: Int64, changes: [(user: UInt32, entered: Bool, at: Date)], evaluatedRevision: Int64? = nil
    ) {
        self.segmentID = segmentID
        self.expectedVersion = expectedVersion
        self.changes = changes
        self.evaluatedRevision = evaluatedRevision
    }
}

/// Why a real-time write was refused (nothing of it was written).
public enum RealtimeWriteRefusal: Error, Sendable, Equatable {
    /// The lease's epoch is no longer the tenant's: another replica owns it.
    case leaseLost
    /// Someone else wrote the segment's membership (a refresh, an erasure) since it was read.
    case membersMoved(segmentID: String)
}

/// Storage of real-time evaluation: the segments marked real-time, the lease
/// rows, the facts of users evaluated one by one, and fenced membership writes.
public struct RealtimeStore: Sendable {
    let database: Database
    private var logger: Logger { database.logger }

    public init(database: Database) {
        self.database = database
    }

    /// Tenants with at least one active real-time segment (read across tenants as the job worker).
    public func tenantsWithRealtimeSegments() async throws -> [TenantID] {
        try await database.asJobWorker { connection in
            var tenants: [TenantID] = []
            for try await id in try await connection.query(
                """
                SELECT DISTINCT tenant_id FROM segments
                WHERE real_time AND deleted_at IS NULL AND state = 'active' AND kind = 'rule_based' ORDER BY tenant_id
                """, logger: logger
            ).decode(String.self) {
                if let tenant = TenantID(id) { tenants.append(tenant) }
            }
            return tenants
        }
    }

    /// The tenant's active real-time segments with their rules, the evaluation
    /// context at `now`, and the member states of `watching` (segments read before).
    public func state(
        of tenant: TenantID, now: Date, watching: [String]
    ) async throws -> (segments: [RealtimeSegmentRow], context: EvaluationContext, states: [String: MemberState]) {
        try await database.transaction(tenant: tenant) { transaction in
            var segments: [RealtimeSegmentRow] = []
            for try await (id, revision, ast) in try await transaction.connection.query(
                """
                SELECT segment_id, revision, rule_ast::text FROM segments
                WHERE real_time AND deleted_at IS NULL AND state = 'active' AND kind = 'rule_based' AND rule_ast IS NOT NULL
                ORDER BY segment_id
                """, logger: logger
            ).decode((String, Int64, String).self) {
                let rule = try JSONDecoder().decode(Rule.self, from: Data(ast.utf8))
                segments.append(RealtimeSegmentRow(segmentID: id, rule: rule, revision: revision))
            }
            let context = try await transaction.evaluationContext(now: now)
            let states = try await transaction.memberStates(of: watching)
            return (segments, context, states)
        }
    }

    /// The members of `segmentIDs` with the state they are at.
    public func members(of segmentIDs: [String], tenant: TenantID) async throws -> [String: (state: MemberState, indexes: [Int64])] {
        try await database.transaction(tenant: tenant) { try await $0.members(of: segmentIDs) }
    }

    /// What the single-user evaluator needs about `users` (a user that no longer exists is missing).
    public func facts(of users: [UInt32], tenant: TenantID) async throws -> [UInt32: UserFacts] {
        guard !users.isEmpty else { return [:] }
        return try await database.withTenantSnapshot(tenant) { connection in
            let catalog = try await RuleStore.catalog(on: connection, logger: logger)
            let loaded = try await UserFactsLoader(catalog: catalog, logger: logger).load(users.map { Int64($0) }, memberships: false, on: connection)
            var facts: [UInt32: UserFacts] = [:]
            for (index, userFacts) in loaded.facts { if let user = UInt32(exactly: index) { facts[user] = userFacts } }
            return facts
        }
    }

    // MARK: Leases

    /// Takes the tenant's lease for `owner` if no one holds it or it expired at `now`
    /// (the epoch moves by one), or renews it if `owner` holds it; nil when another
    /// replica's lease is still in force.
    public func acquire(_ tenant: TenantID, owner: String, for duration: Duration, now: Date) async throws -> RealtimeLease? {
        let expires = now.addingTimeInterval(duration.seconds)
        return try await database.withTenant(tenant) { connection in
            var lease: RealtimeLease?
            for try await (epoch, expiresAt) in try await connection.query(
                """
                INSERT INTO realtime_leases AS l (tenant_id, owner, epoch, expires_at, acquired_at)
                VALUES (\(tenant.rawValue), \(owner), 1, \(expires), \(now))
                ON CONFLICT (tenant_id) DO UPDATE SET
                    owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
                    epoch = CASE WHEN l.owner = EXCLUDED.owner THEN l.epoch ELSE l.epoch + 1 END,
                    acquired_at = CASE WHEN l.owner = EXCLUDED.owner THEN l.acquired_at ELSE EXCLUDED.acquired_at END
                WHERE l.owner = EXCLUDED.owner OR l.expires_at <= \(now)
                RETURNING epoch, expires_at
                """, logger: logger
            ).decode((Int64, Date).self) {
                lease = RealtimeLease(tenant: tenant, owner: owner, epoch: epoch, expiresAt: expiresAt)
            }
            return lease
        }
    }

    /// Extends `lease` to `duration` after `now`; nil when its epoch is no longer the tenant's.
    public func renew(_ lease: RealtimeLease, for duration: Duration, now: Date) async throws -> RealtimeLease? {
        let expires = now.addingTimeInterval(duration.seconds)
        return try await database.withTenant(lease.tenant) { connection in
            var renewed: RealtimeLease?
            for try await expiresAt in try await connection.query(
                """
                UPDATE realtime_leases SET expires_at = \(expires)
                WHERE tenant_id = \(lease.tenant.rawValue) AND owner = \(lease.owner) AND epoch = \(lease.epoch)
                RETURNING expires_at
                """, logger: logger
            ).decode(Date.self) {
                renewed = RealtimeLease(tenant: lease.tenant, owner: lease.owner, epoch: lease.epoch, expiresAt: expiresAt)
            }
            return renewed
        }
    }

    /// Gives the lease up (a graceful stop): another replica may take it at once.
    public func release(_ lease: RealtimeLease, now: Date) async throws {
        try await database.withTenant(lease.tenant) { connection in
            try await connection.query(
                """
                UPDATE realtime_leases SET expires_at = \(now)
                WHERE tenant_id = \(lease.tenant.rawValue) AND owner = \(lease.owner) AND epoch = \(lease.epoch)
                """, logger: logger)
        }
    }

    /// The tenant's lease row as it is (nil when none was ever taken).
    public func lease(of tenant: TenantID) async throws -> RealtimeLease? {
        try await database.withTenant(tenant) { connection in
            var lease: RealtimeLease?
            for try await (owner, epoch, expiresAt) in try await connection.query(
                "SELECT owner, epoch, expires_at FROM realtime_leases WHERE tenant_id = \(tenant.rawValue)", logger: logger
            ).decode((String, Int64, Date).self) {
                lease = RealtimeLease(tenant: tenant, owner: owner, epoch: epoch, expiresAt: expiresAt)
            }
            return lease
        }
    }

    // MARK: Writing

    /// Writes real-time changes in one transaction, fenced by the lease: the lease row
    /// is locked (a replica taking it over waits for this commit) and must still carry
    /// the lease's epoch, and each segment must still be at the member version its
    /// changes were computed against. Every change is appended to the change log with
    /// cause `realtime` and its own instant. Returns each segment's state after the write.
    public func write(_ writes: [RealtimeWrite], lease: RealtimeLease) async throws -> [String: MemberState] {
        let tenant = lease.tenant
        return try await database.withTenant(tenant) { connection in
            // Before any segment row: erasure orders itself against membership writers by this lock.
            try await MembershipWriteLock.shared(tenant, on: connection, logger: logger)
            var fenced = false
            for try await _ in try await connection.query(
                """
                SELECT 1 FROM realtime_leases
                WHERE tenant_id = \(tenant.rawValue) AND owner = \(lease.owner) AND epoch = \(lease.epoch) FOR SHARE
                """, logger: logger
            ).decode(Int32.self) { fenced = true }
            guard fenced else { throw RealtimeWriteRefusal.leaseLost }
            let changed = writes.filter { !$0.changes.isEmpty }
            var states: [String: MemberState] = [:]
            if !changed.isEmpty {
                states = try await Self.apply(changed, tenant: tenant, on: connection, logger: logger)
            }
            let evaluated = writes.compactMap { write in write.evaluatedRevision.map { (write.segmentID, $0) } }
            if !evaluated.isEmpty {
                try await connection.query(
                    """
                    UPDATE segments s SET refreshed_revision = e.revision
                    FROM unnest(\(evaluated.map(\.0))::text[], \(evaluated.map(\.1))::int8[]) AS e(segment_id, revision)
                    WHERE s.segment_id = e.segment_id AND (s.refreshed_revision IS NULL OR s.refreshed_revision < e.revision)
                    """, logger: logger)
            }
            return states
        }
    }

    /// Writes every segment's changes in three statements whatever the number of segments (a
    /// cycle writes up to all of them, and round trips were most of a write under load): the
    /// member versions move (each must still be the one the changes were computed against),
    /// then members, change log and sizes in one statement.
    private static func apply(
        _ writes: [RealtimeWrite], tenant: TenantID, on connection: PostgresConnection, logger: Logger
    ) async throws -> [String: MemberState] {
        try await MemberSetCache.membershipWillChange(tenant: tenant, segments: writes.map(\.segmentID), on: connection, logger: logger)
        var states: [String: MemberState] = [:]
        for try await (segment, version, size) in try await connection.query(
            """
            UPDATE segments s SET member_version = s.member_version + 1
            FROM unnest(\(writes.map(\.segmentID))::text[], \(writes.map(\.expectedVersion))::int8[]) AS w(segment_id, expected)
            WHERE s.segment_id = w.segment_id AND s.member_version = w.expected AND s.deleted_at IS NULL
            RETURNING s.segment_id, s.member_version, s.size
            """, logger: logger
        ).decode((String, Int64, Int64).self) {
            states[segment] = MemberState(version: version, size: size)
        }
        if let moved = writes.first(where: { states[$0.segmentID] == nil }) {
            throw RealtimeWriteRefusal.membersMoved(segmentID: moved.segmentID)
        }
        var segments: [String] = []
        var users: [Int64] = []
        var entered: [Bool] = []
        var instants: [Date] = []
        for write in writes {
            for change in write.changes {
                segments.append(write.segmentID)
                users.append(Int64(change.user))
                entered.append(change.entered)
                instants.append(change.at)
            }
        }
        let sql = """
            WITH versions AS (
                SELECT * FROM unnest($2::text[], $3::int8[]) AS v(segment_id, version)
            ),
            changes AS (
                SELECT * FROM unnest($4::text[], $5::int8[], $6::bool[], $7::timestamptz[]) AS c(segment_id, user_index, entered, effective_at)
            ),
            exited AS (
                DELETE FROM segment_members m USING changes c
                WHERE m.tenant_id = $1 AND m.segment_id = c.segment_id AND m.user_index = c.user_index AND NOT c.entered
                RETURNING m.segment_id, m.user_index, c.effective_at
            ),
            entered AS (
                INSERT INTO segment_members (tenant_id, segment_id, user_index, entered_at)
                SELECT $1, c.segment_id, c.user_index, c.effective_at FROM changes c
                WHERE c.entered AND \(MembershipWriteLock.existingUser("c.user_index", tenant: "$1"))
                ON CONFLICT DO NOTHING
                RETURNING segment_id, user_index, entered_at AS effective_at
            ),
            diff AS (
                SELECT d.segment_id, d.user_index, d.entered, v.version, d.effective_at FROM (
                    SELECT segment_id, user_index, true AS entered, effective_at FROM entered
                    UNION ALL SELECT segment_id, user_index, false, effective_at FROM exited
                ) d JOIN versions v USING (segment_id)
                ORDER BY d.effective_at, d.segment_id, d.user_index
            ),
            \(ChangeLog.appending(diff: "diff", tenant: "$1", effectiveAt: "d.effective_at", cause: .realtime, jobID: "0::bigint")),
            sized AS (
                UPDATE segments s SET size = s.size + x.delta
                FROM (SELECT segment_id, sum(CASE WHEN entered THEN 1 ELSE -1 END)::int8 AS delta FROM diff GROUP BY segment_id) x
                WHERE s.segment_id = x.segment_id
                RETURNING s.segment_id, s.size
            )
            SELECT segment_id, size, (SELECT count(*) FROM logged)::int8 FROM sized
            """
        var bindings = PostgresBindings()
        bindings.append(tenant.rawValue)
        bindings.append(writes.map(\.segmentID))
        bindings.append(writes.map { states[$0.segmentID]!.version })
        bindings.append(segments)
        bindings.append(users)
        bindings.append(entered)
        bindings.append(instants)
        for try await (segment, size, _) in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
            .decode((String, Int64, Int64).self)
        {
            states[segment]?.size = size
        }
        return states
    }
}
