import SegmentDomain
import SegmentStore

/// Runs jobs of one kind. `run` finishes the job itself (inside the
/// transaction that does the work, so a rescued attempt cannot commit); it
/// throws to fail the attempt.
public protocol JobHandler: Sendable {
    var kind: JobKind { get }
    func run(_ job: JobRecord, worker: String) async throws
    /// Called after an attempt failed (to show the error on the resource).
    func failed(_ job: JobRecord, message: String) async
}

/// Refreshes segments.
public struct RefreshHandler: JobHandler {
    public let kind = JobKind.refresh
    let refresh: SegmentRefresher

    public init(refresh: SegmentRefresher) {
        self.refresh = refresh
    }

    public func run(_ job: JobRecord, worker: String) async throws {
        _ = try await refresh.run(job, worker: worker)
    }

    public func failed(_ job: JobRecord, message: String) async {
        try? await refresh.recordFailure(job, message: message)
    }
}
