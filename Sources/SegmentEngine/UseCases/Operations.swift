import Foundation
import SegmentDomain
import SegmentStore

/// Long-running work as callers see it: operations are jobs, read, listed, cancelled and waited on.
public struct Operations: Sendable {
    let queue: JobQueue
    let wakeups: OperationWakeups
    let pollInterval: Duration

    /// - Parameters:
    ///   - wakeups: What wakes a wait when its job changes (its listener runs as a service).
    ///   - pollInterval: How often a wait looks at its job when no notification came (one lost
    ///     while the listening connection was down).
    public init(queue: JobQueue, wakeups: OperationWakeups, pollInterval: Duration = .seconds(5)) {
        self.queue = queue
        self.wakeups = wakeups
        self.pollInterval = pollInterval
    }

    public func get(tenant: TenantID, jobID: Int64) async throws -> JobRecord {
        try await queue.get(tenant: tenant, jobID: jobID)
    }

    /// Jobs newest first, below `before` (a job id) when given.
    public func list(tenant: TenantID, target: String?, pageSize: Int, before: Int64?) async throws -> [JobRecord] {
        try await queue.list(tenant: tenant, target: target, pageSize: pageSize, before: before)
    }

    /// Cancels a queued job at once; a running one is flagged and stopped by its worker.
    public func cancel(tenant: TenantID, jobID: Int64, audit: AuditContext) async throws -> JobRecord {
        try await queue.cancel(tenant: tenant, jobID: jobID, audit: audit)
    }

    /// What a waiting caller sees change (a lease renewal alone is not news).
    private struct Visible: Equatable {
        let state: JobState
        let progress: JobProgress
        let attempt: Int
        let errors: [JobError]
        let result: JobResult?

        init(_ job: JobRecord) {
            state = job.state
            progress = job.progress
            attempt = job.attempt
            errors = job.errors
            result = job.result
        }
    }

    /// Calls `update` with the job each time it visibly changes, until it is done or the
    /// task is cancelled (the call's deadline). Woken by the job's notification, so a
    /// finished job is seen within a round trip of its commit; polls only as a fallback.
    public func wait(tenant: TenantID, jobID: Int64, _ update: (JobRecord) async throws -> Void) async throws {
        try await wakeups.watching(tenant: tenant, jobID: jobID) { watch in
            var last: Visible?
            while true {
                let job = try await queue.get(tenant: tenant, jobID: jobID)
                if Visible(job) != last {
                    try await update(job)
                    last = Visible(job)
                }
                if job.state.isFinal { return }
                await watch.next(timeout: pollInterval)
                try Task.checkCancellation()
            }
        }
    }
}
