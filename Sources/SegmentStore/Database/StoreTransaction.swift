import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentRules

/// One transaction scoped to a tenant, as the engine uses it: the store's
/// operations that must commit together (lock a segment, replace its members,
/// record the refresh, finish the job), without the PostgreSQL connection
/// leaving the store. Everything commits, or nothing does.
public struct StoreTransaction: Sendable {
    let connection: PostgresConnection
    let logger: Logger
    /// The tenant the transaction is scoped to (row-level security).
    public let tenant: TenantID
}

extension Database {
    /// Runs `body` in one transaction scoped to `tenant`.
    public func transaction<Result: Sendable>(
        tenant: TenantID, _ body: (StoreTransaction) async throws -> sending Result
    ) async throws -> sending Result {
        try await withTenant(tenant) { connection in
            try await body(StoreTransaction(connection: connection, logger: logger, tenant: tenant))
        }
    }
}

/// Where a segment's membership stands: the number of its last write
/// (`member_version`) and its size (erasing a user lowers the size without a write).
/// Members read at one state are the members for as long as the state is the same.
public struct MemberState: Sendable, Hashable {
    public var version: Int64
    public var size: Int64
    public init(version: Int64, size: Int64) {
        self.version = version
        self.size = size
    }
}

/// Where a segment's new member set comes from.
public enum MemberSource: Sendable {
    /// A compiled rule's query.
    case rule(CompiledQuery)
    /// A connector's ids that match known users.
    case connectorMatches
}

extension StoreTransaction {
    /// Declares that this transaction may write memberships: first, before any segment
    /// is locked, so an erasure is ordered against it (``MembershipWriteLock``).
    public func willWriteMemberships() async throws {
        try await MembershipWriteLock.shared(tenant, on: connection, logger: logger)
    }

    /// The segment, locked until the transaction ends.
    public func lockSegment(_ segmentID: String) async throws -> SegmentRecord {
        try await SegmentStore.fetch(segmentID, tenant: tenant, on: connection, logger: logger, lock: true)
    }

    /// What a rule is evaluated against: the tenant's time zone and last campaign at `now`.
    public func evaluationContext(now: Date) async throws -> EvaluationContext {
        try await RuleStore.context(tenant: tenant, now: now, on: connection, logger: logger)
    }

    /// The tenant's catalog: the types the SQL compiler reads JSON values with.
    public func ruleCatalog() async throws -> RuleCatalog {
        try await RuleStore.catalog(on: connection, logger: logger)
    }

    /// Makes the segment's membership exactly the users `source` selects, writing only
    /// the difference; a rule's query may run for `timeout` at most.
    public func replaceMembers(
        of segmentID: String, with source: MemberSource, timeout: Duration, now: Date, jobID: Int64
    ) async throws -> MembershipChange {
        var bindings = PostgresBindings()
        let fresh: String
        switch source {
        case .rule(let compiled):
            try await RuleStore.limitTime(timeout, on: connection, logger: logger)
            fresh = compiled.sql
            bindings = RuleStore.bindings(compiled.parameters)
        case .connectorMatches:
            fresh = ConnectorStore.matchedMembersSQL
            bindings.append(tenant.rawValue)
            bindings.append(segmentID)
        }
        let change = try await MembershipWriter.replace(
            segmentID: segmentID, tenant: tenant, with: fresh, bindings: bindings, now: now, jobID: jobID, cause: .refresh, on: connection,
            logger: logger)
        return MembershipChange(size: change.size, entered: change.entered, exited: change.exited, selectMilliseconds: change.selectMilliseconds)
    }

    /// Where each of `segmentIDs` stands (missing: no such segment): a caller holding
    /// members read at the same state need not read them again.
    public func memberStates(of segmentIDs: [String]) async throws -> [String: MemberState] {
        var states: [String: MemberState] = [:]
        guard !segmentIDs.isEmpty else { return states }
        for try await (segment, version, size) in try await connection.query(
            "SELECT segment_id, member_version, size FROM segments WHERE segment_id = ANY(\(segmentIDs))", logger: logger
        ).decode((String, Int64, Int64).self) {
            states[segment] = MemberState(version: version, size: size)
        }
        return states
    }

    /// The current members of `segmentIDs` in index order, each with the state they are
    /// at, read in one statement (so the two agree); a segment that does not exist is missing.
    public func members(of segmentIDs: [String]) async throws -> [String: (state: MemberState, indexes: [Int64])] {
        var members: [String: (state: MemberState, indexes: [Int64])] = [:]
        guard !segmentIDs.isEmpty else { return members }
        // One array per segment: decoding a row per member costs more than reading it.
        for try await (segment, version, size, indexes) in try await connection.query(
            """
            SELECT s.segment_id, s.member_version, s.size,
                coalesce((SELECT array_agg(m.user_index ORDER BY m.user_index) FROM segment_members m WHERE m.segment_id = s.segment_id), '{}')
            FROM segments s WHERE s.segment_id = ANY(\(segmentIDs))
            """,
            logger: logger
        ).decode((String, Int64, Int64, [Int64]).self) {
            members[segment] = (MemberState(version: version, size: size), indexes)
        }
        return members
    }

    /// Writes a difference computed elsewhere (the audience engine's members against
    /// ``members(of:)`` read in this transaction): only who entered and who exited
    /// are written, with their changes, as one statement; no difference writes nothing.
    /// `entering` must be distinct users who are not members (they are inserted without a conflict check).
    /// `size` is the membership after the change (the caller knows it; counting costs a scan).
    public func changeMembers(
        of segmentID: String, entering: [Int64], exiting: [Int64], size: Int64, now: Date, jobID: Int64
    ) async throws -> MembershipChange {
        guard !entering.isEmpty || !exiting.isEmpty else { return MembershipChange(size: size, entered: 0, exited: 0) }
        var bindings = PostgresBindings()
        bindings.append(tenant.rawValue)
        bindings.append(entering)
        bindings.append(exiting)
        let change = try await MembershipWriter.change(
            segmentID: segmentID, tenant: tenant, adding: "SELECT unnest($2::int8[]) AS user_index", removing: "SELECT unnest($3::int8[])",
            bindings: bindings, now: now, jobID: jobID, size: size, exact: true, cause: .refresh, on: connection, logger: logger)
        // Users that no longer exist (erased after an engine state was read) were not inserted.
        let size = change.size - (Int64(entering.count) - change.entered)
        return MembershipChange(size: size, entered: change.entered, exited: change.exited)
    }

    /// How many ids a connector segment holds (matched or not).
    public func connectorCount(of segmentID: String) async throws -> Int64 {
        try await ConnectorStore.connectorCount(segmentID: segmentID, on: connection, logger: logger)
    }

    /// Records a finished refresh on the segment: size, last refresh, a size-history point, and
    /// the refreshes of segments that follow it (evaluated at `evaluatedAt`, as this one was).
    public func recordRefresh(
        _ change: MembershipChange, of segment: SegmentRecord, by job: JobRecord, now: Date, evaluatedAt: Date, durationMilliseconds: Int64,
        connectorCount: Int64?
    ) async throws {
        try await MembershipWriter.record(
            .init(size: change.size, entered: change.entered, exited: change.exited, selectMilliseconds: change.selectMilliseconds),
            segment: segment, now: now, evaluatedAt: evaluatedAt, durationMilliseconds: durationMilliseconds, jobID: job.jobID,
            scheduled: job.args.scheduled, connectorCount: connectorCount, matchedCount: connectorCount.map { _ in change.size },
            creator: job.creator, on: connection, logger: logger)
    }

    /// Marks the attempt succeeded with `result`; throws `conflict` (and so rolls everything back)
    /// when the attempt lost the job or its cancellation was requested.
    public func completeJob(_ job: JobRecord, worker: String, result: JobResult, now: Date) async throws {
        try await JobQueue.complete(job, worker: worker, result: result, now: now, on: connection, logger: logger)
    }
}
