import Foundation
import SegmentDomain
import SegmentStore
import Synchronization

/// Reports an export's rows done through the job's lease renewal, at most once a second.
final class ExportProgress: Sendable {
    private struct State {
        var total: Int64 = 0
        var done: Int64 = 0
        var last = ContinuousClock.now
    }

    let queue: JobQueue
    let job: JobRecord
    let worker: String
    let lease: Duration
    private let state = Mutex(State())

    init(queue: JobQueue, job: JobRecord, worker: String, lease: Duration) {
        self.queue = queue
        self.job = job
        self.worker = worker
        self.lease = lease
    }

    /// The rows the export will write.
    var total: Int64 {
        get { state.withLock { $0.total } }
        set { state.withLock { $0.total = newValue } }
    }

    func advance(by rows: Int64) async throws {
        try Task.checkCancellation()  // A cancelled export stops within a chunk.
        let report: JobProgress? = state.withLock { state in
            state.done += rows
            guard ContinuousClock.now - state.last >= .seconds(1) else { return nil }
            state.last = ContinuousClock.now
            return JobProgress(done: state.done, total: state.total, stage: "writing")
        }
        if let report { _ = try await queue.renew(job, worker: worker, lease: lease, progress: report) }
    }
}
