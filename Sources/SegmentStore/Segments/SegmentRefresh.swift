import Foundation
import Logging
import PostgresNIO
import SegmentRules

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
    }

    /// Runs the refresh job `job` (claimed by `worker`).
    public func run(_ job: JobRecord, worker: String) async throws -> Outcome {
        let started = ContinuousClock.now
        let now = clock()
        let segmentID = String(job.target.split(separator: "/").last ?? "")
        return try await database.withTenant(job.tenantID) { connection in
            let logger = database.logger
            let segment = try await SegmentStore.fetch(segmentID, tenant: job.tenantID, on: connection, logger: logger, lock: true)
            func finish(_ outcome: Outcome) async throws -> Outcome {
                var result = ["size": String(outcome.size), "entered": String(outcome.entered), "exited": String(outcome.exited),
                              "duration_ms": String(outcome.durationMilliseconds)]
                if let skipped = outcome.skipped { result["skipped"] = skipped }
                result["worker"] = worker
                try await JobQueue.complete(job, worker: worker, result: result, now: now, on: connection, logger: logger)
                return outcome
            }
            if segment.deletedAt != nil { return try await finish(Outcome(size: segment.size, entered: 0, exited: 0, durationMilliseconds: 0, skipped: "the segment is deleted")) }
            if segment.state != .active { return try await finish(Outcome(size: segment.size, entered: 0, exited: 0, durationMilliseconds: 0, skipped: "the segment is \(segment.state.rawValue)")) }
            guard let text = segment.definition.ruleText else {
                return try await finish(Outcome(size: segment.size, entered: 0, exited: 0, durationMilliseconds: 0, skipped: "not a rule-based segment"))
            }
            let rule = try RuleText.parse(text)
            let catalog = try await RuleStore.catalog(on: connection, logger: logger)
            let context = try await RuleStore.context(tenant: job.tenantID, now: now, on: connection, logger: logger)
            let compiled = RuleSQLCompiler.compile(rule, tenant: job.tenantID.rawValue, catalog: catalog, context: context)
            try await rules.limitTime(on: connection)
            let n = compiled.parameters.count
            // The new set, the difference written, and the difference kept as the last refresh's changes.
            let sql = """
                WITH fresh AS MATERIALIZED (\(compiled.sql)),
                exited AS (
                    DELETE FROM segment_members m WHERE m.tenant_id = $1 AND m.segment_id = $\(n + 1)
                    AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.user_index = m.user_index)
                    RETURNING m.user_index
                ),
                entered AS (
                    INSERT INTO segment_members (tenant_id, segment_id, user_index, entered_at)
                    SELECT $1, $\(n + 1), f.user_index, $\(n + 2) FROM fresh f WHERE f.user_index IS NOT NULL ON CONFLICT DO NOTHING
                    RETURNING user_index
                ),
                changes AS (
                    INSERT INTO segment_changes (tenant_id, segment_id, user_index, change, job_id)
                    SELECT $1, $\(n + 1), user_index, 'entered', $\(n + 3)::bigint FROM entered
                    UNION ALL SELECT $1, $\(n + 1), user_index, 'exited', $\(n + 3)::bigint FROM exited
                    RETURNING 1
                )
                SELECT (SELECT count(*) FROM fresh)::int8, (SELECT count(*) FROM entered)::int8, (SELECT count(*) FROM exited)::int8,
                       (SELECT count(*) FROM changes)::int8
                """
            // The previous refresh's changes go first (a statement of their own: one statement
            // must not delete and insert the same key).
            try await connection.query("DELETE FROM segment_changes WHERE segment_id = \(segmentID)", logger: logger)
            var outcome = Outcome(size: 0, entered: 0, exited: 0, durationMilliseconds: 0)
            for try await (size, entered, exited, _) in try await rules.run(
                sql, compiled.parameters + [.text(segmentID), .timestamptz(now), .text(String(job.jobID))], on: connection
            ).decode((Int64, Int64, Int64, Int64).self) {
                outcome = Outcome(size: size, entered: entered, exited: exited, durationMilliseconds: 0)
            }
            let elapsed = ContinuousClock.now - started
            outcome.durationMilliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
            let scheduled = job.args["scheduled"] == "true"
            try await connection.query(
                """
                UPDATE segments SET size = \(outcome.size), last_refresh_at = \(now), last_refresh_outcome = 'succeeded',
                    last_refresh_error = NULL, last_refresh_ms = \(outcome.durationMilliseconds), last_refresh_job = \(job.jobID),
                    next_refresh_at = CASE WHEN \(scheduled) THEN \(segment.definition.schedule.next(after: now)) ELSE next_refresh_at END
                WHERE segment_id = \(segmentID)
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO segment_size_history (tenant_id, segment_id, time, size, entered, exited, duration_ms, job_id)
                VALUES (\(job.tenantID.rawValue), \(segmentID), \(now), \(outcome.size), \(outcome.entered), \(outcome.exited),
                        \(outcome.durationMilliseconds), \(job.jobID))
                """, logger: logger)
            // Segments that follow this one refresh next.
            for try await dependent in try await connection.query(
                """
                SELECT segment_id FROM segments
                WHERE deleted_at IS NULL AND state = 'active' AND \(segmentID) = ANY(refs) AND (schedule ->> 'after_dependencies')::boolean
                """, logger: logger
            ).decode(String.self) {
                _ = try await JobQueue.enqueue(
                    tenant: job.tenantID, kind: "refresh", target: "tenants/\(job.tenantID)/segments/\(dependent)",
                    args: ["reason": "dependency \(segmentID)"], uniqueKey: "refresh:\(dependent)", runAt: now, creator: job.creator,
                    on: connection, logger: logger)
            }
            return try await finish(outcome)
        }
    }

    /// Records a failed refresh on the segment (its membership is unchanged).
    public func recordFailure(_ job: JobRecord, message: String) async throws {
        let segmentID = String(job.target.split(separator: "/").last ?? "")
        try await database.withTenant(job.tenantID) { connection in
            try await connection.query(
                """
                UPDATE segments SET last_refresh_at = \(clock()), last_refresh_outcome = 'failed', last_refresh_error = \(message),
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
