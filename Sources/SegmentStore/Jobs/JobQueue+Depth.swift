import Foundation
import PostgresNIO
import SegmentDomain

/// How many jobs of one kind are in one unfinished state, across tenants.
public struct JobQueueDepth: Sendable, Equatable {
    public var kind: JobKind
    /// `queued`, `retrying` or `running`.
    public var state: JobState
    public var count: Int
    /// When the oldest due job of this kind and state became due (`run_at`); nil for
    /// `running`, and when none is due yet (a retry still in its backoff).
    public var oldestDueAt: Date?

    public init(kind: JobKind, state: JobState, count: Int, oldestDueAt: Date?) {
        self.kind = kind
        self.state = state
        self.count = count
        self.oldestDueAt = oldestDueAt
    }
}

extension JobQueue {
    /// The unfinished jobs by kind and state, across every tenant, in one query
    /// (for the queue's metrics). Kinds and states with no job are left out.
    public func depth() async throws -> [JobQueueDepth] {
        let now = clock()
        return try await asWorker { connection in
            var depths: [JobQueueDepth] = []
            for try await (kind, state, count, oldest) in try await connection.query(
                """
                SELECT kind, state, count(*),
                       min(run_at) FILTER (WHERE state IN ('queued', 'retrying') AND run_at <= \(now))
                FROM jobs WHERE state IN ('queued', 'retrying', 'running')
                GROUP BY kind, state
                """, logger: database.logger
            ).decode((String, String, Int64, Date?).self) {
                // A kind or state this build does not know (written by a newer replica) is skipped.
                guard let kind = JobKind(rawValue: kind), let state = JobState(rawValue: state) else { continue }
                depths.append(JobQueueDepth(kind: kind, state: state, count: Int(count), oldestDueAt: oldest))
            }
            return depths
        }
    }
}
