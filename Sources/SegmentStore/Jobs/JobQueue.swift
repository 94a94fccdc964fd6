import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// Jobs as rows in PostgreSQL, after riverqueue/river: claimed with one
/// statement (`FOR UPDATE SKIP LOCKED` + `UPDATE … RETURNING`), held by a lease
/// the worker renews, rescued when the lease expires, retried with exponential
/// backoff and jitter, and finished only by the attempt that claimed them.
public struct JobQueue: Sendable {
    let database: Database
    let clock: @Sendable () -> Date
    /// Running jobs of one kind other than refresh (export, pull, training) one tenant may have at once.
    let tenantConcurrency: Int
    /// The NOTIFY channel that wakes idle workers.
    public static let channel = "segmentd_jobs"

    public init(database: Database, clock: @escaping @Sendable () -> Date = { Date() }, tenantConcurrency: Int = 1) {
        self.database = database
        self.clock = clock
        self.tenantConcurrency = max(1, tenantConcurrency)
    }

    /// Runs `body` in a transaction that sees every tenant's jobs (workers only).
    func asWorker<Result: Sendable>(_ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        try await database.asJobWorker(body)
    }

    // MARK: Enqueue

    /// Adds a job, or returns the pending one with the same `uniqueKey` (so 50
    /// identical requests make one job). Call inside the tenant's transaction.
    public static func enqueue(
        tenant: TenantID, kind: JobKind, target: String, args: JobArguments = JobArguments(), uniqueKey: String?, runAt: Date,
        maxAttempts: Int = 5, creator: String, on connection: PostgresConnection, logger: Logger
    ) async throws -> (job: JobRecord, created: Bool) {
        // ON CONFLICT on the partial unique index leaves the existing pending job in place. A worker
        // may claim that job between the insert and the look-up (it is then no longer pending, and
        // a new one can be inserted): the race is resolved here, never handed to the caller.
        for _ in 0..<5 {
            for try await row in try await connection.query(
                """
                INSERT INTO jobs (tenant_id, kind, target, args, unique_key, run_at, max_attempts, creator, created_at)
                VALUES (\(tenant.rawValue), \(kind.rawValue), \(target), \(args.jobJSON)::jsonb, \(uniqueKey), \(runAt), \(Int32(maxAttempts)), \(creator), \(runAt))
                ON CONFLICT (tenant_id, unique_key) WHERE unique_key IS NOT NULL AND state IN ('queued', 'retrying') DO NOTHING
                RETURNING \(unescaped: JobRecord.columns)
                """, logger: logger)
            {
                try await connection.query("SELECT pg_notify(\(channel), \(kind.rawValue))", logger: logger)
                return (try JobRecord.decode(row), true)
            }
            for try await row in try await connection.query(
                """
                SELECT \(unescaped: JobRecord.columns) FROM jobs
                WHERE unique_key = \(uniqueKey) AND state IN ('queued', 'retrying') ORDER BY job_id LIMIT 1
                """, logger: logger)
            {
                return (try JobRecord.decode(row), false)
            }
        }
        throw DomainError(.conflict, "the pending job changed while it was looked up; retry")
    }

    /// Enqueues in a transaction of its own (see the static form).
    public func enqueue(
        tenant: TenantID, kind: JobKind, target: String, args: JobArguments = JobArguments(), uniqueKey: String?, maxAttempts: Int = 5,
        creator: String
    ) async throws -> JobRecord {
        let now = clock()
        return try await database.withTenant(tenant) { connection in
            try await Self.enqueue(
                tenant: tenant, kind: kind, target: target, args: args, uniqueKey: uniqueKey, runAt: now, maxAttempts: maxAttempts,
                creator: creator, on: connection, logger: database.logger
            ).job
        }
    }

    // MARK: Workers

    /// Claims up to `limit` due jobs of `kinds` for `worker`, leased for `lease`,
    /// fairly across tenants: a tenant's next job waits behind every other tenant's
    /// jobs that have fewer of theirs running or queued ahead (so 500 exports of one
    /// tenant delay another's refresh by one job at most); a tenant runs at most
    /// `tenantConcurrency` jobs of each slow kind (export, sync, train) at once, so its
    /// slow pulls cannot hold every worker; disabled tenants' jobs wait. Claims are
    /// serialised by an advisory lock, so the caps hold across workers.
    public func claim(worker: String, kinds: [JobKind], limit: Int, lease: Duration) async throws -> [JobRecord] {
        let now = clock()
        let expires = now.addingTimeInterval(lease.seconds)
        let columns = JobRecord.columns.split(separator: ",").map { "j." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        return try await asWorker { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.claimLock))", logger: database.logger)
            var jobs: [JobRecord] = []
            for try await row in try await connection.query(
                """
                WITH running AS (
                    SELECT tenant_id, kind, count(*) AS n FROM jobs WHERE state = 'running' GROUP BY tenant_id, kind
                ), tenant_running AS (
                    SELECT tenant_id, sum(n) AS n FROM running GROUP BY tenant_id
                ), pending AS (
                    SELECT q.tenant_id, q.job_id, q.kind, q.run_at,
                           row_number() OVER (PARTITION BY q.tenant_id, q.kind ORDER BY q.run_at, q.job_id) AS kind_rank
                    FROM jobs q JOIN tenants t ON t.tenant_id = q.tenant_id AND t.state = 'active'
                    WHERE q.state IN ('queued', 'retrying') AND q.run_at <= \(now) AND q.kind = ANY(\(kinds.map(\.rawValue)))
                ), eligible AS (
                    SELECT p.tenant_id, p.job_id, p.run_at,
                           coalesce(tr.n, 0) + row_number() OVER (PARTITION BY p.tenant_id ORDER BY p.run_at, p.job_id) AS turn
                    FROM pending p
                    LEFT JOIN running r ON r.tenant_id = p.tenant_id AND r.kind = p.kind
                    LEFT JOIN tenant_running tr ON tr.tenant_id = p.tenant_id
                    WHERE p.kind = 'refresh' OR coalesce(r.n, 0) + p.kind_rank <= \(Int64(tenantConcurrency))
                ), next AS (
                    SELECT q.tenant_id, q.job_id FROM jobs q JOIN eligible e ON e.tenant_id = q.tenant_id AND e.job_id = q.job_id
                    ORDER BY e.turn, e.run_at, e.job_id LIMIT \(Int64(limit))
                    FOR UPDATE OF q SKIP LOCKED
                )
                UPDATE jobs j SET state = 'running', attempt = j.attempt + 1, lease_owner = \(worker), lease_expires_at = \(expires),
                                  started_at = coalesce(j.started_at, \(now))
                FROM next WHERE j.tenant_id = next.tenant_id AND j.job_id = next.job_id
                RETURNING \(unescaped: columns.joined(separator: ", "))
                """, logger: database.logger)
            {
                jobs.append(try JobRecord.decode(row))
            }
            return jobs.sorted { ($0.runAt, $0.jobID) < ($1.runAt, $1.jobID) }
        }
    }

    /// The advisory lock claims take (a fixed number: "sgdclaim").
    static let claimLock: Int64 = 0x7367_6463_6c61_696d

    /// Extends the lease of a claimed attempt. Returns nil when the attempt no
    /// longer owns the job (rescued, finished); otherwise whether cancellation was requested.
    public func renew(_ job: JobRecord, worker: String, lease: Duration, progress: JobProgress? = nil) async throws -> Bool? {
        let expires = clock().addingTimeInterval(lease.seconds)
        return try await asWorker { connection in
            for try await cancel in try await connection.query(
                """
                UPDATE jobs SET lease_expires_at = \(expires), progress = coalesce(\(progress?.jobJSON)::jsonb, progress)
                WHERE tenant_id = \(job.tenantID.rawValue) AND job_id = \(job.jobID) AND attempt = \(Int32(job.attempt))
                  AND state = 'running' AND lease_owner = \(worker)
                RETURNING cancel_requested
                """, logger: database.logger
            ).decode(Bool.self) {
                return cancel
            }
            return nil
        }
    }

    /// The guard every finishing statement uses: only the claimed attempt, still running, still leased to this worker.
    /// (Bound as $1-$4 by ``ownedBindings(_:worker:)``; `alias` qualifies the columns.)
    static func owned(_ alias: String = "") -> String {
        let p = alias.isEmpty ? "" : alias + "."
        return "\(p)tenant_id = $1 AND \(p)job_id = $2 AND \(p)attempt = $3 AND \(p)state = 'running' AND \(p)lease_owner = $4"
    }

    static func ownedBindings(_ job: JobRecord, worker: String) -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(job.tenantID.rawValue)
        bindings.append(job.jobID)
        bindings.append(Int32(job.attempt))
        bindings.append(worker)
        return bindings
    }

    /// Marks the attempt succeeded with `result`, on `connection` (so it commits
    /// with the work). Throws `conflict` when the attempt lost the job or its
    /// cancellation was requested: the caller's transaction then rolls back, so
    /// a late worker changes nothing and a cancelled job has no effect.
    public static func complete(
        _ job: JobRecord, worker: String, result: JobResult, now: Date, on connection: PostgresConnection, logger: Logger
    ) async throws {
        var bindings = ownedBindings(job, worker: worker)
        bindings.append(result.jsonText)
        bindings.append(now)
        let rows = try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    UPDATE jobs SET state = 'succeeded', result = $5::jsonb, finished_at = $6, lease_owner = NULL, lease_expires_at = NULL
                    WHERE \(owned()) AND NOT cancel_requested RETURNING 1
                    """, binds: bindings), logger: logger)
        var updated = false
        for try await _ in rows { updated = true }
        guard updated else { throw DomainError(.conflict, "job \(job.jobID) attempt \(job.attempt) no longer owns the job, or it was cancelled") }
    }

    /// Records a failed attempt: retried after a backoff while attempts remain
    /// (and `retryable`), else failed with the error kept. Returns the new state,
    /// nil when the attempt no longer owned the job.
    public func fail(_ job: JobRecord, worker: String, code: String, message: String, retryable: Bool) async throws -> JobState? {
        let now = clock()
        let error = JobError(attempt: job.attempt, code: code, message: String(message.prefix(2000)), time: now)
        let retry = retryable && job.attempt < job.maxAttempts
        let runAt = now.addingTimeInterval(Self.backoff(attempt: job.attempt))
        return try await asWorker { connection in
            var bindings = Self.ownedBindings(job, worker: worker)
            bindings.append("[\(error.jobJSON)]")
            bindings.append(retry)
            bindings.append(runAt)
            bindings.append(now)
            let rows = try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        UPDATE jobs j SET errors = j.errors || $5::jsonb, lease_owner = NULL, lease_expires_at = NULL,
                            state = CASE WHEN NOT $6 THEN 'failed'
                                         WHEN EXISTS (SELECT 1 FROM jobs p WHERE p.tenant_id = j.tenant_id AND p.unique_key = j.unique_key
                                                      AND p.state IN ('queued', 'retrying')) THEN 'cancelled'
                                         ELSE 'retrying' END,
                            run_at = CASE WHEN $6 THEN $7 ELSE j.run_at END,
                            finished_at = CASE WHEN $6 THEN NULL ELSE $8 END
                        WHERE \(Self.owned("j"))
                        RETURNING j.state
                        """, binds: bindings), logger: database.logger)
            for try await state in rows.decode(String.self) { return JobState(rawValue: state) }
            return nil
        }
    }

    /// Ends a running attempt as cancelled (after it stopped on request).
    public func finishCancelled(_ job: JobRecord, worker: String) async throws {
        let now = clock()
        try await asWorker { connection in
            var bindings = Self.ownedBindings(job, worker: worker)
            bindings.append(now)
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        UPDATE jobs SET state = 'cancelled', finished_at = $5, lease_owner = NULL, lease_expires_at = NULL
                        WHERE \(Self.owned())
                        """, binds: bindings), logger: database.logger)
        }
    }

    /// Exponential backoff with jitter: about 2^attempt seconds (±25 %), at most 10 minutes.
    public static func backoff(attempt: Int) -> TimeInterval {
        let base = min(600, pow(2, Double(max(1, attempt))))
        return base * Double.random(in: 0.75...1.25)
    }

    /// Returns running jobs whose lease expired to the queue (or fails them when
    /// out of attempts). Returns how many were rescued.
    public func rescue() async throws -> Int {
        let now = clock()
        return try await asWorker { connection in
            var count = 0
            for try await _ in try await connection.query(
                """
                UPDATE jobs j SET
                    state = CASE WHEN j.attempt >= j.max_attempts THEN 'failed'
                                 WHEN EXISTS (SELECT 1 FROM jobs p WHERE p.tenant_id = j.tenant_id AND p.unique_key = j.unique_key
                                              AND p.state IN ('queued', 'retrying')) THEN 'cancelled'
                                 ELSE 'retrying' END,
                    errors = j.errors || jsonb_build_array(jsonb_build_object(
                        'attempt', j.attempt, 'code', 'LEASE_EXPIRED',
                        'message', 'the worker ' || coalesce(j.lease_owner, '?') || ' stopped renewing its lease',
                        'time', to_char(\(now)::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))),
                    finished_at = CASE WHEN j.attempt >= j.max_attempts THEN \(now) ELSE NULL END,
                    run_at = \(now), lease_owner = NULL, lease_expires_at = NULL
                WHERE j.state = 'running' AND j.lease_expires_at < \(now)
                RETURNING 1
                """, logger: database.logger)
            {
                count += 1
            }
            return count
        }
    }

    /// Hands this worker's running jobs back to the queue at once (graceful shutdown):
    /// the attempt does not count.
    public func release(worker: String) async throws -> Int {
        let now = clock()
        return try await asWorker { connection in
            var count = 0
            for try await _ in try await connection.query(
                """
                UPDATE jobs j SET state = CASE WHEN EXISTS (SELECT 1 FROM jobs p WHERE p.tenant_id = j.tenant_id AND p.unique_key = j.unique_key
                                                            AND p.state IN ('queued', 'retrying')) THEN 'cancelled' ELSE 'queued' END,
                    attempt = j.attempt - 1, run_at = \(now), lease_owner = NULL, lease_expires_at = NULL
                WHERE j.state = 'running' AND j.lease_owner = \(worker)
                RETURNING 1
                """, logger: database.logger)
            {
                count += 1
            }
            return count
        }
    }

    // MARK: Operations API

    public func get(tenant: TenantID, jobID: Int64) async throws -> JobRecord {
        try await database.withTenant(tenant) { connection in
            for try await row in try await connection.query(
                "SELECT \(unescaped: JobRecord.columns) FROM jobs WHERE job_id = \(jobID)", logger: database.logger)
            {
                return try JobRecord.decode(row)
            }
            throw DomainError(.notFound, "tenants/\(tenant)/operations/\(jobID) not found")
        }
    }

    /// The tenant's jobs, newest first; `target` filters by resource.
    public func list(tenant: TenantID, target: String?, pageSize: Int, before: Int64?) async throws -> [JobRecord] {
        try await database.withTenant(tenant) { connection in
            var jobs: [JobRecord] = []
            for try await row in try await connection.query(
                """
                SELECT \(unescaped: JobRecord.columns) FROM jobs
                WHERE (\(target ?? "") = '' OR target = \(target ?? "")) AND job_id < \(before ?? Int64.max)
                ORDER BY job_id DESC LIMIT \(Int64(pageSize))
                """, logger: database.logger)
            {
                jobs.append(try JobRecord.decode(row))
            }
            return jobs
        }
    }

    /// Cancels: a queued or retrying job at once; a running one is flagged and its
    /// worker notified (it stops and ends the job cancelled). Finished jobs are unchanged.
    public func cancel(tenant: TenantID, jobID: Int64, audit: AuditContext) async throws -> JobRecord {
        let now = clock()
        return try await database.audited(audit, resource: "tenants/\(tenant)/operations/\(jobID)") { connection, record in
            for try await row in try await connection.query(
                """
                UPDATE jobs SET
                    state = CASE WHEN state IN ('queued', 'retrying') THEN 'cancelled' ELSE state END,
                    finished_at = CASE WHEN state IN ('queued', 'retrying') THEN \(now) ELSE finished_at END,
                    cancel_requested = cancel_requested OR state = 'running'
                WHERE job_id = \(jobID)
                RETURNING \(unescaped: JobRecord.columns)
                """, logger: database.logger)
            {
                let job = try JobRecord.decode(row)
                if job.state == .running {
                    try await connection.query("SELECT pg_notify(\(Self.channel), \("cancel:\(tenant):\(jobID)"))", logger: database.logger)
                }
                record.after = ["state": .string(job.state.rawValue), "cancel_requested": .bool(job.cancelRequested)]
                return job
            }
            throw DomainError(.notFound, "tenants/\(tenant)/operations/\(jobID) not found")
        }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

extension JobQueue {
    /// Calls `wake` with each NOTIFY payload on the jobs channel (a new job's
    /// kind, or `cancel:{tenant}:{id}`) until the task is cancelled. Holds one
    /// pooled connection while it listens.
    public func listen(_ wake: @Sendable (String) async -> Void) async throws {
        try await database.withConnection { connection in
            try await connection.listen(on: Self.channel) { notifications in
                for try await notification in notifications {
                    await wake(notification.payload)
                }
            }
        }
    }
}
