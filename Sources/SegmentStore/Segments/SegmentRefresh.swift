import Foundation
import Logging
import PostgresNIO
import SegmentRules
import SegmentDomain

/// Refreshes a segment: computes the new member set with the compiled rule,
/// writes only the difference, appends size history and finishes the job — all
/// in one transaction, so membership is the old set or the new one, never a
/// mix, and an attempt that lost its job changes nothing.
public struct SegmentRefresh: Sendable {
    let database: Database
    let rules: RuleStore
    let clock: @Sendable () -> Date

    public init(database: Database, rules: RuleStore, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.rules = rules
        self.clock = clock
    }

    /// What a refresh did.
    public struct Outcome: Sendable, Equatable {
        public var size: Int64
        public var entered: Int64
        public var exited: Int64
        public var durationMilliseconds: Int64
        /// Set when the refresh did not run (deleted, paused, not rule-based).
        public var skipped: String?
        /// Of the duration, how long the rule's query took (the rest wrote the membership).
        public var selectMilliseconds: Int64?
    }

    /// Runs the refresh job `job` (claimed by `worker`).
    public func run(_ job: JobRecord, worker: String) async throws -> Outcome {
        let started = ContinuousClock.now
        let now = clock()
        let segmentID = job.segmentID
        return try await database.withTenant(job.tenantID) { connection in
            let logger = database.logger
            let segment = try await SegmentStore.fetch(segmentID, tenant: job.tenantID, on: connection, logger: logger, lock: true)
            func finish(_ outcome: Outcome) async throws -> Outcome {
                // Where the time went (the rule's query, and the rest: the difference, history, the job), and
                // the instant every window ended at.
                let result = RefreshResult(
                    size: outcome.size, entered: outcome.entered, exited: outcome.exited, durationMilliseconds: outcome.durationMilliseconds,
                    selectMilliseconds: outcome.selectMilliseconds, skipped: outcome.skipped, worker: worker,
                    evaluatedAt: now.timeIntervalSince1970)
                try await JobQueue.complete(job, worker: worker, result: .refresh(result), now: now, on: connection, logger: logger)
                return outcome
            }
            if segment.deletedAt != nil { return try await finish(Outcome(size: segment.size, entered: 0, exited: 0, durationMilliseconds: 0, skipped: "the segment is deleted")) }
            if segment.state != .active { return try await finish(Outcome(size: segment.size, entered: 0, exited: 0, durationMilliseconds: 0, skipped: "the segment is \(segment.state.rawValue)")) }
            let fresh: String
            var bindings: PostgresBindings
            switch segment.kind {
            case .ruleBased:
                guard let text = segment.definition.ruleText else { throw DomainError(.internalError, "\(segment.name) has no rule") }
                let rule = try RuleText.parse(text)
                let catalog = try await RuleStore.catalog(on: connection, logger: logger)
                let context = try await RuleStore.context(tenant: job.tenantID, now: now, on: connection, logger: logger)
                let compiled = RuleSQLCompiler.compile(rule, tenant: job.tenantID.rawValue, catalog: catalog, context: context)
                try await rules.limitTime(on: connection)
                fresh = compiled.sql
                bindings = RuleStore.bindings(compiled.parameters)
            case .connector:
                // Re-match the connector's ids with the users known now (users ingested since the sync enter).
                fresh = ConnectorStore.matchedMembersSQL
                bindings = PostgresBindings()
                bindings.append(job.tenantID.rawValue)
                bindings.append(segmentID)
            case .predictive:
                return try await finish(Outcome(size: segment.size, entered: 0, exited: 0, durationMilliseconds: 0, skipped: "predictive segments are scored by training"))
            }
            let change = try await MembershipWriter.replace(
                segmentID: segmentID, tenant: job.tenantID, with: fresh, bindings: bindings, now: now, jobID: job.jobID, on: connection, logger: logger)
            var outcome = Outcome(size: change.size, entered: change.entered, exited: change.exited, durationMilliseconds: MembershipWriter.milliseconds(since: started))
            outcome.selectMilliseconds = change.selectMilliseconds
            var connectorCount: Int64?
            if segment.kind == .connector {
                connectorCount = try await ConnectorStore.connectorCount(segmentID: segmentID, on: connection, logger: logger)
            }
            try await MembershipWriter.record(
                change, segment: segment, now: now, durationMilliseconds: outcome.durationMilliseconds, jobID: job.jobID,
                scheduled: job.args["scheduled"] == "true", connectorCount: connectorCount, matchedCount: connectorCount.map { _ in change.size },
                creator: job.creator, on: connection, logger: logger)
            outcome.durationMilliseconds = MembershipWriter.milliseconds(since: started)
            return try await finish(outcome)
        }
    }

    /// Records a failed refresh on the segment (its membership is unchanged).
    public func recordFailure(_ job: JobRecord, message: String) async throws {
        try await Self.recordFailure(job, message: message, at: clock(), database: database)
    }

    /// Records any kind's failed refresh, sync or training on its segment (the membership is unchanged).
    static func recordFailure(_ job: JobRecord, message: String, at now: Date, database: Database) async throws {
        let segmentID = job.segmentID
        try await database.withTenant(job.tenantID) { connection in
            try await connection.query(
                """
                UPDATE segments SET last_refresh_at = \(now), last_refresh_outcome = 'failed', last_refresh_error = \(message),
                    last_refresh_job = \(job.jobID)
                WHERE segment_id = \(segmentID)
                """, logger: database.logger)
        }
    }

    /// Size history, newest first.
    public func history(tenant: TenantID, segmentID: String, limit: Int) async throws -> [(time: Date, size: Int64, entered: Int64, exited: Int64, durationMilliseconds: Int64)] {
        try await database.withTenant(tenant) { connection in
            _ = try await SegmentStore.fetch(segmentID, tenant: tenant, on: connection, logger: database.logger)
            var points: [(time: Date, size: Int64, entered: Int64, exited: Int64, durationMilliseconds: Int64)] = []
            for try await row in try await connection.query(
                """
                SELECT time, size, entered, exited, duration_ms FROM segment_size_history
                WHERE segment_id = \(segmentID) ORDER BY seq DESC LIMIT \(Int64(limit))
                """, logger: database.logger
            ).decode((Date, Int64, Int64, Int64, Int64).self) {
                points.append((row.0, row.1, row.2, row.3, row.4))
            }
            return points
        }
    }
}
