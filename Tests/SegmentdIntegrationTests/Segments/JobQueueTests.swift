import Foundation
import GRPCCore
import Logging
import SegmentDomain
import SegmentEngine
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Synchronization
import Testing

@Suite("Job queue: leases, rescue, late workers, backoff, cancellation", .timeLimit(.minutes(5)))
struct JobQueueTests {
    static let start = Date(timeIntervalSince1970: 1_795_617_000)

    @Test("an expired lease is rescued; the late worker cannot finish the newer attempt")
    func leases() async throws {
        let clock = ManualWallClock(Self.start)
        try await TestServer.with(configure: { $0.clock = { clock.now() } }) { server in
            let queue = server.server.jobQueue
            let job = try await queue.enqueue(
                tenant: server.tenant, kind: .refresh, target: "tenants/acme/things/1", uniqueKey: "thing:1", creator: "test")
            #expect(job.state == .queued && job.attempt == 0)
            let claimedA = try await queue.claim(worker: "A", kinds: [.refresh], limit: 5, lease: .seconds(30))
            #expect(claimedA.map(\.jobID) == [job.jobID] && claimedA[0].attempt == 1 && claimedA[0].leaseOwner == "A")
            #expect(try await queue.claim(worker: "B", kinds: [.refresh], limit: 5, lease: .seconds(30)).isEmpty, "a leased job is not claimed twice")
            // Renewing keeps it; time passing without renewal loses it.
            clock.advance(by: 20)
            #expect(try await queue.renew(claimedA[0], worker: "A", lease: .seconds(30)) == false)
            #expect(try await queue.rescue() == 0)
            clock.advance(by: 31)
            #expect(try await queue.rescue() == 1)
            let rescued = try await queue.get(tenant: server.tenant, jobID: job.jobID)
            #expect(rescued.state == .retrying && rescued.errors.last?.code == "LEASE_EXPIRED")
            let claimedB = try await queue.claim(worker: "B", kinds: [.refresh], limit: 5, lease: .seconds(30))
            #expect(claimedB.first?.attempt == 2)
            // A wakes up late: it no longer owns the job.
            #expect(try await queue.renew(claimedA[0], worker: "A", lease: .seconds(30)) == nil)
            #expect(try await queue.fail(claimedA[0], worker: "A", code: "LATE", message: "late", retryable: true) == nil)
            #expect(try await queue.get(tenant: server.tenant, jobID: job.jobID).state == .running)
        }
    }

    @Test("failures retry with exponential backoff and jitter, then fail with every error kept")
    func retries() async throws {
        let clock = ManualWallClock(Self.start)
        try await TestServer.with(configure: { $0.clock = { clock.now() } }) { server in
            let queue = server.server.jobQueue
            let job = try await queue.enqueue(tenant: server.tenant, kind: .refresh, target: "t", uniqueKey: nil, maxAttempts: 3, creator: "test")
            for attempt in 1...3 {
                let claimed = try #require(try await queue.claim(worker: "W", kinds: [.refresh], limit: 1, lease: .seconds(30)).first)
                #expect(claimed.attempt == attempt)
                let state = try await queue.fail(claimed, worker: "W", code: "BOOM", message: "attempt \(attempt) failed", retryable: true)
                let stored = try await queue.get(tenant: server.tenant, jobID: job.jobID)
                if attempt < 3 {
                    #expect(state == .retrying)
                    let delay = stored.runAt.timeIntervalSince(clock.now())
                    let base = pow(2, Double(attempt))
                    #expect(delay >= base * 0.75 && delay <= base * 1.25, "attempt \(attempt): \(delay) s")
                    #expect(try await queue.claim(worker: "W", kinds: [.refresh], limit: 1, lease: .seconds(30)).isEmpty, "not before its backoff")
                    clock.advance(by: delay)
                } else {
                    #expect(state == .failed)
                    #expect(stored.errors.map(\.message) == ["attempt 1 failed", "attempt 2 failed", "attempt 3 failed"])
                    #expect(stored.finishedAt != nil)
                }
            }
        }
    }

    /// A handler that announces each start, then runs until cancelled.
    struct BlockingHandler: JobHandler {
        let kind = JobKind.export
        let started: AsyncStream<Int64>.Continuation
        func run(_ job: JobRecord, worker: String) async throws {
            started.yield(job.jobID)
            while true { try await Task.sleep(for: .milliseconds(20)) }
        }
        func failed(_ job: JobRecord, message: String) async {}
    }

    @Test("cancel: a queued job at once, a running one through its worker")
    func cancel() async throws {
        try await TestServer.with { server in
            let queue = server.server.jobQueue
            try await server.connect { connection in
                let queued = try await queue.enqueue(tenant: server.tenant, kind: .export, target: "t1", uniqueKey: nil, creator: "test")
                let cancelled = try await connection.operations.cancelOperation(.with { $0.name = queued.name }, metadata: connection.metadata)
                #expect(cancelled.state == .cancelled && cancelled.done)

                let (started, startedSignal) = AsyncStream.makeStream(of: Int64.self)
                var configuration = JobWorker.Configuration()
                configuration.lease = .seconds(3)
                configuration.pollInterval = .milliseconds(100)
                let worker = JobWorker(
                    queue: queue, handlers: [BlockingHandler(started: startedSignal)], configuration: configuration, logger: Logger(label: "test"))
                let running = try await queue.enqueue(tenant: server.tenant, kind: .export, target: "t2", uniqueKey: nil, creator: "test")
                let task = Task { try await worker.run() }
                // The worker picked it up.
                var iterator = started.makeAsyncIterator()
                #expect(await iterator.next() == running.jobID)
                let flagged = try await connection.operations.cancelOperation(.with { $0.name = running.name }, metadata: connection.metadata)
                #expect(flagged.state == .running, "a running job is flagged, then stopped by its worker")
                let final = try await connection.wait(operation: running.name)
                // Stopped by its own worker in the first attempt, not by a lease rescue.
                #expect(final.attempt == 1 && !final.hasError, "\(final)")
                #expect(final.state == .cancelled && final.done)
                task.cancel()
                _ = await task.result
            }
        }
    }

    @Test("stopping a worker hands its running jobs back to the queue at once, without using up an attempt")
    func shutdownHandsJobsBack() async throws {
        try await TestServer.with { server in
            let queue = server.server.jobQueue
            let (started, startedSignal) = AsyncStream.makeStream(of: Int64.self)
            var configuration = JobWorker.Configuration()
            configuration.pollInterval = .milliseconds(100)
            let worker = JobWorker(
                queue: queue, handlers: [BlockingHandler(started: startedSignal)], configuration: configuration, logger: Logger(label: "test"))
            let job = try await queue.enqueue(tenant: server.tenant, kind: .export, target: "t", uniqueKey: nil, creator: "test")
            let task = Task { try await worker.run() }
            var iterator = started.makeAsyncIterator()
            #expect(await iterator.next() == job.jobID)
            #expect(try await queue.get(tenant: server.tenant, jobID: job.jobID).state == .running)
            task.cancel()
            _ = await task.result
            let back = try await queue.get(tenant: server.tenant, jobID: job.jobID)
            #expect(back.state == .queued && back.attempt == 0 && back.leaseOwner == nil && back.errors.isEmpty, "\(back)")
        }
    }
}
