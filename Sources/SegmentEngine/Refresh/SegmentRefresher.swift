import Foundation
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

    public init(database: Database, evaluationTimeout: Duration, clock: @escaping @Sendable () -> Date) {
        self.database = database
        self.segments = SegmentStore(database: database, clock: clock)
        self.evaluationTimeout = evaluationTimeout
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
    }

    /// Runs the refresh job `job` (claimed by `worker`).
    public func run(_ job: JobRecord, worker: String) async throws -> Outcome {
        let started = ContinuousClock.now
        let now = clock()
        return try await database.transaction(tenant: job.tenantID) { transaction in
            let segment = try await transaction.lockSegment(job.segmentID)
            func finish(_ outcome: Outcome) async throws -> Outcome {
                // Where the time went (the rule's evaluation, and the rest: the difference, history, the job), and
                // the instant every window ended at.
                let result = RefreshResult(
                    size: outcome.size, entered: outcome.entered, exited: outcome.exited, durationMilliseconds: outcome.durationMilliseconds,
                    selectMilliseconds: outcome.selectMilliseconds, skipped: outcome.skipped, worker: worker,
                    evaluatedAt: now.timeIntervalSince1970)
                try await transaction.completeJob(job, worker: worker, result: .refresh(result), now: now)
                return outcome
            }
            func skip(_ reason: String) async throws -> Outcome {
                try await finish(Outcome(size: segment.size, entered: 0, exited: 0, durationMilliseconds: 0, skipped: reason))
            }
            if segment.deletedAt != nil { return try await skip("the segment is deleted") }
            if segment.state != .active { return try await skip("the segment is \(segment.state.rawValue)") }
            let source: MemberSource
            switch segment.kind {
            case .ruleBased:
                guard let rule = try segment.definition.savedRule() else { throw DomainError(.internalError, "\(segment.name) has no rule") }
                let (catalog, context) = try await transaction.ruleEnvironment(now: now)
                source = .rule(RuleSQLCompiler.compile(rule, tenant: job.tenantID.rawValue, catalog: catalog, context: context))
            case .connector:
                // Re-match the connector's ids with the users known now (users ingested since the sync enter).
                source = .connectorMatches
            case .predictive:
                return try await skip("predictive segments are scored by training")
            }
            let change = try await transaction.replaceMembers(
                of: segment.segmentID, with: source, timeout: evaluationTimeout, now: now, jobID: job.jobID)
            let connectorCount = segment.kind == .connector ? try await transaction.connectorCount(of: segment.segmentID) : nil
            try await transaction.recordRefresh(
                change, of: segment, by: job, now: now, durationMilliseconds: Self.milliseconds(since: started), connectorCount: connectorCount)
            return try await finish(
                Outcome(
                    size: change.size, entered: change.entered, exited: change.exited, durationMilliseconds: Self.milliseconds(since: started),
                    selectMilliseconds: change.selectMilliseconds))
        }
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
