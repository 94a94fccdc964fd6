import Foundation
import SegmentDomain
import SegmentStore
import SegmentdTestSupport
import Testing

@testable import SegmentEngine

@Suite("Job queue depth for metrics: by kind and state, with the oldest due time", .timeLimit(.minutes(5)))
struct JobQueueDepthTests {
    static let start = Date(timeIntervalSince1970: 1_795_617_000)

    func depth(_ depths: [JobQueueDepth], _ kind: JobKind, _ state: JobState) -> JobQueueDepth? {
        depths.first { $0.kind == kind && $0.state == state }
    }

    @Test("queued, running and retrying jobs are counted by kind; a retry in its backoff is not yet waiting; finished jobs drop out")
    func depthByKindAndState() async throws {
        let clock = ManualWallClock(Self.start)
        try await TestServer.with(configure: { $0.clock = { clock.now() } }) { server in
            let queue = server.server.jobQueue
            #expect(try await queue.depth().isEmpty)
            for target in ["a", "b"] {
                _ = try await queue.enqueue(tenant: server.tenant, kind: .refresh, target: target, uniqueKey: nil, maxAttempts: 1, creator: "test")
            }
            clock.advance(by: 5)
            _ = try await queue.enqueue(tenant: server.tenant, kind: .export, target: "c", uniqueKey: nil, creator: "test")
            clock.advance(by: 10)
            let claimed = try #require(try await queue.claim(worker: "W", kinds: [.refresh], limit: 1, lease: .seconds(30)).first)

            var depths = try await queue.depth()
            #expect(depth(depths, .refresh, .queued) == JobQueueDepth(kind: .refresh, state: .queued, count: 1, oldestDueAt: Self.start))
            #expect(depth(depths, .refresh, .running) == JobQueueDepth(kind: .refresh, state: .running, count: 1, oldestDueAt: nil))
            #expect(
                depth(depths, .export, .queued)
                    == JobQueueDepth(kind: .export, state: .queued, count: 1, oldestDueAt: Self.start.addingTimeInterval(5)))
            #expect(depths.count == 3)
            // As gauges: the oldest refresh has waited 15 s.
            let ages = JobMetricsSampler.values(depths, now: clock.now()).filter { $0.label == "segmentd_jobs_oldest_queued_age_seconds" }
            #expect(ages.first { $0.dimensions["kind"] == "refresh" }?.value == 15)
            #expect(ages.first { $0.dimensions["kind"] == "export" }?.value == 10)

            // The running one fails for good (one attempt allowed): it leaves the depth.
            #expect(try await queue.fail(claimed, worker: "W", code: "BOOM", message: "boom", retryable: true) == .failed)
            // The export fails and will retry after its backoff: counted as retrying, not yet waiting.
            let export = try #require(try await queue.claim(worker: "W", kinds: [.export], limit: 1, lease: .seconds(30)).first)
            #expect(try await queue.fail(export, worker: "W", code: "BOOM", message: "boom", retryable: true) == .retrying)
            depths = try await queue.depth()
            #expect(depth(depths, .refresh, .running) == nil)
            #expect(depth(depths, .refresh, .queued)?.count == 1)
            #expect(depth(depths, .export, .retrying) == JobQueueDepth(kind: .export, state: .retrying, count: 1, oldestDueAt: nil))
            let retryAt = try await queue.get(tenant: server.tenant, jobID: export.jobID).runAt
            clock.advance(by: retryAt.timeIntervalSince(clock.now()) + 3)
            #expect(try await queue.depth().first { $0.kind == .export }?.oldestDueAt == retryAt)
        }
    }
}
