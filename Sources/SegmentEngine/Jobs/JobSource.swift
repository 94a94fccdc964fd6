import SegmentDomain
import SegmentStore

/// What a ``JobWorker`` needs of the job queue: the lease protocol, and the
/// notifications that wake it. `JobQueue` is the real one; unit tests drive the
/// worker with an in-memory one and a manual clock.
public protocol JobSource: Sendable {
    /// Claims up to `limit` due jobs of `kinds` for `worker`, leased for `lease`.
    func claim(worker: String, kinds: [JobKind], limit: Int, lease: Duration) async throws -> [JobRecord]
    /// Extends the lease: false while the job is still wanted, true when its cancellation
    /// was requested, nil when the attempt no longer owns the job.
    func renew(_ job: JobRecord, worker: String, lease: Duration) async throws -> Bool?
    /// Records a failed attempt; the job's new state, nil when the attempt no longer owned it.
    func fail(_ job: JobRecord, worker: String, code: String, message: String, retryable: Bool) async throws -> JobState?
    /// Ends an attempt whose cancellation was requested.
    func finishCancelled(_ job: JobRecord, worker: String) async throws
    /// Returns jobs whose lease expired to the queue; how many.
    func rescue() async throws -> Int
    /// Hands `worker`'s running jobs back to the queue without using up an attempt; how many.
    func release(worker: String) async throws -> Int
    /// Calls `notify` with each notification until cancelled: a new job of a kind
    /// (its name), or `cancel:{tenant}:{id}` for a job whose cancellation was requested.
    func listen(_ notify: @Sendable (String) async -> Void) async throws
}

extension JobQueue: JobSource {
    public func renew(_ job: JobRecord, worker: String, lease: Duration) async throws -> Bool? {
        try await renew(job, worker: worker, lease: lease, progress: nil)
    }
}
