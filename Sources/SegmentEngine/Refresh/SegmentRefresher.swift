import Foundation
import Logging
import Metrics
import SegmentDomain
import SegmentRules
import SegmentStore

/// Refreshes a segment: evaluates its rule (or re-matches a connector's ids),
/// writes only the difference, records the size history and finishes the job —
/// all in one store transaction, so membership is the old set or the new one,
/// never a mix, and an attempt that lost its job changes nothing.
public struct SegmentRefresher: Sendable {
    let database: Database
    let segments: SegmentStore
    let evaluationTimeout: Duration
    let clock: @Sendable () -> Date
    /// Loaded tenants' audiences: a rule evaluates over them when current, in SQL otherwise.
    let audiences: AudienceRegistry?

    public init(
        database: Database, evaluationTimeout: Duration, audiences: AudienceRegistry? = nil, clock: @escaping @Sendable () -> Date
    ) {
        self.database = database
        self.segments = SegmentStore(database: database, clock: clock)
        self.evaluationTimeout = evaluationTimeout
        self.audiences = audiences
        self.clock = clock
    }

    /// What a refresh did.
    public struct Outcome: Sendable, Equatable {
        public var size: Int64
        public var entered: Int64
        public var exited: Int64
        public var durationMilliseconds: Int64
        /// Set when the refresh did not run (deleted, paused, predictive).
        public var skipped: String?
        /// Of the duration, how long the rule's evaluation took (the rest wrote the membership).
        public var selectMilliseconds: Int64?
        /// Where a rule was evaluated: `engine` (in memory) or `sql`.
        public var path: String?
    }

    /// Runs the refresh job `job` (claimed by `worker`).
    public func run(_ job: JobRecord, worker: String) async throws -> Outcome {
        let started = ContinuousClock.now
        let now = clock()
        // Brought up to date before the transaction: it then holds every batch acknowledged before the refresh began.
        let audience = await audiences?.current(for: job.tenantID)
        let memberSets = database.memberSets
        // Taken before the write begins: the set it commits is kept for checks only if nothing else touched it since.
        let commitTicket = memberSets.commitTicket(tenant: job.tenantID, segment: job.segmentID)
        var written: (members: MemberBitmap, state: MemberState, previous: MemberSetCache.HeldMembers?, previousSize: Int64)?
        var readBack: [String] = []
        let outcome = try await database.transaction(tenant: job.tenantID) { transaction in
            try await transaction.willWriteMemberships()
            let segment = try await transaction.lockSegment(job.segmentID)
            // The instant every window ends at: the batch's when the job shares one, else now.
            let instant = Self.evaluationInstant(of: job, now: now, realTime: segment.definition.realTime)
            func finish(_ outcome: Outcome) async throws -> Outcome {
                // Where the time went (the rule's evaluation, and the rest: the difference, history, the job), and
                // the instant every window ended at.
                let result = RefreshResult(
                    size: outcome.size, entered: outcome.entered, exited: outcome.exited, durationMilliseconds: outcome.durationMilliseconds,
                    selectMilliseconds: outcome.selectMilliseconds, skipped: outcome.skipped, worker: worker,
                    evaluatedAt: instant.date.timeIntervalSince1970, path: outcome.path)
                try await transaction.completeJob(job, worker: worker, result: .refresh(result), now: now)
                return outcome
            }
            func skip(_ reason: String) async throws -> Outcome {
                try await finish(Outcome(size: segment.size, entered: 0, exited: 0, durationMilliseconds: 0, skipped: reason))
            }
            if segment.deletedAt != nil { return try await skip("the segment is deleted") }
            if segment.state != .active { return try await skip("the segment is \(segment.state.rawValue)") }
            var source: MemberSource?
            var path: String?
            var difference: (entering: [Int64], exiting: [Int64], size: Int64, milliseconds: Int64)?
            switch segment.kind {
            case .ruleBased:
                guard let rule = try segment.definition.savedRule() else { throw DomainError(.internalError, "\(segment.name) has no rule") }
                // The catalog is read only for SQL: the engine's columns are typed already.
                let context = try await transaction.evaluationContext(now: instant.date)
                let evaluationStarted = ContinuousClock.now
                if let audience {
                    let (current, stored, read) = try await currentMembers(
                        of: segment.segmentID, referenced: SegmentReferences.referenced(by: rule), transaction: transaction)
                    readBack = read
                    let members = AudienceEvaluator(audience: audience, context: context, segments: stored, sharesInstant: instant.shared)
                        .members(rule)
                    let entering = members.subtracting(current.members).map { Int64($0) }
                    let exiting = current.members.subtracting(members).map { Int64($0) }
                    difference = (entering, exiting, Int64(members.count), Self.milliseconds(since: evaluationStarted))
                    // Once committed, these are the stored members (a write moves the version by one).
                    let wrote = !entering.isEmpty || !exiting.isEmpty
                    if wrote {
                        written = (
                            members, MemberState(version: current.state.version + 1, size: Int64(members.count)), current.held, current.state.size
                        )
                    }
                    path = "engine"
                } else {
                    let catalog = try await transaction.ruleCatalog()
                    source = .rule(RuleSQLCompiler.compile(rule, tenant: job.tenantID.rawValue, catalog: catalog, context: context))
                    path = "sql"
                }
                Counter(label: "segmentd_refreshes_total", dimensions: [("path", path ?? "sql")]).increment()
            case .connector:
                // Re-match the connector's ids with the users known now (users ingested since the sync enter).
                source = .connectorMatches
            case .predictive:
                return try await skip("predictive segments are scored by training")
            }
            var change: MembershipChange
            if let source {
                change = try await transaction.replaceMembers(
                    of: segment.segmentID, with: source, timeout: evaluationTimeout, now: now, jobID: job.jobID)
            } else {
                change = try await transaction.changeMembers(
                    of: segment.segmentID, entering: difference?.entering ?? [], exiting: difference?.exiting ?? [],
                    size: difference?.size ?? 0, now: now, jobID: job.jobID)
                change.selectMilliseconds = difference?.milliseconds ?? 0
                // An entering user erased since the state was read was left out: the set computed is not what was written.
                if change.entered != Int64(difference?.entering.count ?? 0) { written = nil }
            }
            if segment.definition.realTime, change.entered + change.exited > 0 {
                // Real time keeps this segment true: a full evaluation that disagrees found drift (corrected by this write).
                Counter(label: "segmentd_realtime_reconciled_total").increment(by: Int(change.entered + change.exited))
                database.logger.warning(
                    "a refresh corrected a real-time segment",
                    metadata: ["segment": "\(segment.segmentID)", "entered": "\(change.entered)", "exited": "\(change.exited)"])
            }
            let connectorCount = segment.kind == .connector ? try await transaction.connectorCount(of: segment.segmentID) : nil
            try await transaction.recordRefresh(
                change, of: segment, by: job, now: now, evaluatedAt: instant.date, durationMilliseconds: Self.milliseconds(since: started),
                connectorCount: connectorCount)
            return try await finish(
                Outcome(
                    size: change.size, entered: change.entered, exited: change.exited, durationMilliseconds: Self.milliseconds(since: started),
                    selectMilliseconds: change.selectMilliseconds, path: path))
        }
        if let written {
            // The members just committed serve checks and the next refresh without being read back.
            memberSets.committed(
                tenant: job.tenantID, segment: job.segmentID, words: written.members.words, state: written.state, previous: written.previous,
                previousSize: written.previousSize, enteredAt: now, ticket: commitTicket)
        }
        // Sets read from the database are loaded for the next refresh (and checks) in the background.
        for id in readBack where id != job.segmentID || written == nil { memberSets.prefetch(tenant: job.tenantID, segment: id) }
        return outcome
    }

    /// The segment's current members (locked by the caller: no one else writes them
    /// meanwhile) and the referenced segments', each from the member sets held for checks
    /// when held at its current state, else read, with its state, in one statement; and
    /// which were read.
    func currentMembers(
        of segmentID: String, referenced: [String], transaction: StoreTransaction
    ) async throws -> (
        current: (members: MemberBitmap, state: MemberState, held: MemberSetCache.HeldMembers?), referenced: [String: MemberBitmap],
        read: [String]
    ) {
        let ids = [segmentID] + referenced.filter { $0 != segmentID }
        let states = try await transaction.memberStates(of: ids)
        var members: [String: (members: MemberBitmap, state: MemberState, held: MemberSetCache.HeldMembers?)] = [:]
        for id in ids {
            if let state = states[id], let held = database.memberSets.members(tenant: transaction.tenant, segment: id, at: state) {
                members[id] = (MemberBitmap(words: held.words), state, held)
            }
        }
        let missing = ids.filter { members[$0] == nil && states[$0] != nil }
        for (id, read) in try await transaction.members(of: missing) {
            members[id] = (Self.bitmap(read.indexes), read.state, nil)
        }
        let current = members.removeValue(forKey: segmentID) ?? (MemberBitmap(), states[segmentID] ?? MemberState(version: 0, size: 0), nil)
        return (current, members.mapValues(\.members), missing)
    }

    /// How long a batch's shared instant stays the one its refreshes evaluate at: a
    /// job that waited longer evaluates at its own instant, so no membership is
    /// written more than this much behind the present.
    static let maxBatchLag: TimeInterval = 300

    /// The instant a refresh's rule is evaluated at: the one its batch shares (a
    /// schedule tick, a batch refresh, a segment's dependents), so the batch's
    /// memberships are one consistent cut and a condition they share is evaluated
    /// once; its own `now` when it has none, when that instant is in the future or
    /// more than ``maxBatchLag`` ago, and for real-time segments (which real time
    /// keeps true at the present).
    static func evaluationInstant(of job: JobRecord, now: Date, realTime: Bool) -> (date: Date, shared: Bool) {
        guard !realTime, let micros = job.args.evaluateAt else { return (now, false) }
        let shared = AudienceTime.date(micros)
        guard shared <= now, now.timeIntervalSince(shared) <= maxBatchLag else { return (now, false) }
        return (shared, true)
    }

    /// Stored user indexes as a bitmap (indexes are `UInt32` in the engine; the loader refuses larger).
    static func bitmap(_ indexes: [Int64]) -> MemberBitmap {
        MemberBitmap(indexes.compactMap { UInt32(exactly: $0) })
    }

    /// Records a failed refresh on the segment (its membership is unchanged).
    public func recordFailure(_ job: JobRecord, message: String) async throws {
        try await segments.recordFailure(job, message: message)
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Int64 {
        let elapsed = ContinuousClock.now - start
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }
}
