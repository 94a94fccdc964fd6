import Foundation
import Logging
import SegmentDomain
import SegmentdTestSupport
import Synchronization
import Testing

@testable import SegmentEngine

/// The worker's side of the lease protocol, without a database: an in-memory
/// queue that records every call in order, and a clock the test moves.
@Suite("Job worker: claim, renew, complete, cancel and fail in order, on a manual clock")
struct JobWorkerTests {
    static let lease: Duration = .seconds(30)

    /// An in-memory queue that logs each call the worker makes.
    final class RecordingSource: JobSource {
        struct State {
            var queued: [JobRecord] = []
            var log: [String] = []
            var cancelRequested: Set<Int64> = []
            var lost: Set<Int64> = []
        }
        let state = Mutex(State())
        let (notifications, notify) = AsyncStream.makeStream(of: String.self)

        var log: [String] { state.withLock { $0.log } }
        func add(_ job: JobRecord) { state.withLock { $0.queued.append(job) } }
        func record(_ line: String) { state.withLock { $0.log.append(line) } }

        func claim(worker: String, kinds: [JobKind], limit: Int, lease: Duration) async throws -> [JobRecord] {
            state.withLock { state in
                let claimed = Array(state.queued.filter { kinds.contains($0.kind) }.prefix(limit))
                state.queued.removeAll { job in claimed.contains { $0.jobID == job.jobID } }
                for job in claimed { state.log.append("claim \(job.jobID)") }
                return claimed
            }
        }
        func renew(_ job: JobRecord, worker: String, lease: Duration) async throws -> Bool? {
            state.withLock { state in
                state.log.append("renew \(job.jobID)")
                if state.lost.contains(job.jobID) { return nil }
                return state.cancelRequested.contains(job.jobID)
            }
        }
        func fail(_ job: JobRecord, worker: String, code: String, message: String, retryable: Bool) async throws -> JobState? {
            record("fail \(job.jobID) \(code) \(retryable ? "retryable" : "permanent")")
            // An attempt that lost the job records nothing.
            if state.withLock({ $0.lost.contains(job.jobID) }) { return nil }
            return retryable ? .retrying : .failed
        }
        func finishCancelled(_ job: JobRecord, worker: String) async throws { record("cancelled \(job.jobID)") }
        func rescue() async throws -> Int { 0 }
        func release(worker: String) async throws -> Int {
            record("release")
            return 0
        }
        func listen(_ notify: @Sendable (String) async -> Void) async throws {
            for await payload in notifications { await notify(payload) }
        }
    }

    /// A handler whose work the test releases: it announces its start, then waits for the test's word.
    final class ControlledHandler: JobHandler {
        enum Outcome: Sendable {
            case succeed
            case fail(any Error)
        }
        let kind = JobKind.refresh
        let source: RecordingSource
        let started: AsyncStream<Int64>.Continuation
        let outcomes: AsyncStream<Outcome>
        let failures = Mutex<[Int64]>([])

        init(source: RecordingSource, started: AsyncStream<Int64>.Continuation, outcomes: AsyncStream<Outcome>) {
            self.source = source
            self.started = started
            self.outcomes = outcomes
        }

        func run(_ job: JobRecord, worker: String) async throws {
            source.record("run \(job.jobID)")
            started.yield(job.jobID)
            var next = outcomes.makeAsyncIterator()
            let outcome = await next.next()
            if Task.isCancelled {
                source.record("work stopped \(job.jobID)")
                throw CancellationError()
            }
            switch outcome {
            case .succeed?: source.record("completed \(job.jobID)")
            case .fail(let error)?: throw error
            case nil: throw CancellationError()
            }
        }

        func failed(_ job: JobRecord, message: String) async { failures.withLock { $0.append(job.jobID) } }
    }

    struct Fixture {
        let source = RecordingSource()
        let clock = TestClock()
        let started: AsyncStream<Int64>
        let outcomes: AsyncStream<ControlledHandler.Outcome>.Continuation
        let handler: ControlledHandler
        let worker: JobWorker

        init() {
            let (started, startedSignal) = AsyncStream.makeStream(of: Int64.self)
            let (outcomes, outcomesSignal) = AsyncStream.makeStream(of: ControlledHandler.Outcome.self)
            self.started = started
            self.outcomes = outcomesSignal
            handler = ControlledHandler(source: source, started: startedSignal, outcomes: outcomes)
            var configuration = JobWorker.Configuration()
            configuration.concurrency = 1
            configuration.lease = JobWorkerTests.lease
            configuration.pollInterval = .seconds(2)
            configuration.rescueInterval = .seconds(15)
            worker = JobWorker(
                queue: source, handlers: [handler], configuration: configuration, clock: clock, id: "w1", logger: Logger(label: "test"))
        }

        func job(_ id: Int64) -> JobRecord {
            JobRecord(
                tenantID: TenantID("acme")!, jobID: id, kind: .refresh, target: "tenants/acme/segments/s\(id)", args: JobArguments(), state: .running,
                attempt: 1, maxAttempts: 5, runAt: Date(timeIntervalSince1970: 0), leaseOwner: "w1", leaseExpiresAt: nil,
                cancelRequested: false, progress: JobProgress(), result: nil, errors: [], creator: "test",
                createdAt: Date(timeIntervalSince1970: 0), startedAt: nil, finishedAt: nil)
        }

        func nextStart() async -> Int64? {
            var iterator = started.makeAsyncIterator()
            return await iterator.next()
        }
    }

    @Test("the lease is renewed every third of it while the work runs; the work completes the job")
    func renewalThenCompletion() async throws {
        let fixture = Fixture()
        fixture.source.add(fixture.job(1))
        let drained = Task { try await fixture.worker.drain() }
        #expect(await fixture.nextStart() == 1)
        for _ in 0..<2 {
            await fixture.clock.waitForSleepers(1)
            fixture.clock.advance(by: Self.lease / 3)
        }
        await fixture.clock.waitForSleepers(1)
        fixture.outcomes.yield(.succeed)
        try await drained.value
        #expect(fixture.source.log == ["claim 1", "run 1", "renew 1", "renew 1", "completed 1"])
    }

    @Test("a renewal that finds the cancellation requested stops the work and ends the job cancelled, not failed")
    func cancelledAtRenewal() async throws {
        let fixture = Fixture()
        fixture.source.add(fixture.job(2))
        let drained = Task { try await fixture.worker.drain() }
        #expect(await fixture.nextStart() == 2)
        fixture.source.state.withLock { _ = $0.cancelRequested.insert(2) }
        await fixture.clock.waitForSleepers(1)
        fixture.clock.advance(by: Self.lease / 3)
        try await drained.value
        #expect(fixture.source.log == ["claim 2", "run 2", "renew 2", "work stopped 2", "cancelled 2"])
        #expect(fixture.handler.failures.withLock { $0 }.isEmpty)
    }

    @Test("an attempt that lost its lease stops its work and records nothing: the newer attempt owns the job")
    func lostLease() async throws {
        let fixture = Fixture()
        fixture.source.add(fixture.job(3))
        let drained = Task { try await fixture.worker.drain() }
        #expect(await fixture.nextStart() == 3)
        fixture.source.state.withLock { _ = $0.lost.insert(3) }
        await fixture.clock.waitForSleepers(1)
        fixture.clock.advance(by: Self.lease / 3)
        try await drained.value
        #expect(fixture.source.log == ["claim 3", "run 3", "renew 3", "work stopped 3"])
        #expect(fixture.handler.failures.withLock { $0 }.isEmpty, "a lost attempt must not mark the segment failed")
    }

    @Test("failures: bad input fails for good, anything else is retried; the handler hears of both")
    func failures() async throws {
        let fixture = Fixture()
        fixture.source.add(fixture.job(4))
        fixture.source.add(fixture.job(5))
        let drained = Task { try await fixture.worker.drain() }
        #expect(await fixture.nextStart() == 4)
        fixture.outcomes.yield(.fail(DomainError.invalid("segment.rule", "no such event")))
        #expect(await fixture.nextStart() == 5)
        fixture.outcomes.yield(.fail(DomainError(.unavailable, "the source answered 503")))
        try await drained.value
        #expect(
            fixture.source.log == [
                "claim 4", "run 4", "renew 4", "fail 4 INVALID_ARGUMENT permanent",
                "claim 5", "run 5", "renew 5", "fail 5 UNAVAILABLE retryable",
            ])
        #expect(fixture.handler.failures.withLock { $0 } == [4, 5])
    }

    @Test("a failure of an attempt that no longer owns the job is not recorded on the resource (a newer attempt may have succeeded)")
    func staleFailure() async throws {
        let fixture = Fixture()
        fixture.source.add(fixture.job(8))
        let drained = Task { try await fixture.worker.drain() }
        #expect(await fixture.nextStart() == 8)
        // The lease was lost without this attempt noticing yet; then its work fails.
        fixture.source.state.withLock { _ = $0.lost.insert(8) }
        fixture.outcomes.yield(.fail(DomainError(.unavailable, "the source answered 503")))
        try await drained.value
        #expect(fixture.source.log.contains("fail 8 UNAVAILABLE retryable"))
        #expect(fixture.handler.failures.withLock { $0 }.isEmpty)
    }

    @Test("a running worker is woken by NOTIFY at once, by its poll without one, and a NOTIFY cancels a running job")
    func wakeupsAndCancelNotification() async throws {
        let fixture = Fixture()
        let running = Task { try await fixture.worker.run() }
        // A job with its NOTIFY: claimed without any time passing.
        fixture.source.add(fixture.job(6))
        fixture.source.notify.yield("refresh")
        #expect(await fixture.nextStart() == 6)
        fixture.outcomes.yield(.succeed)
        // A job whose NOTIFY was lost: the poll finds it one poll interval later.
        fixture.source.add(fixture.job(7))
        await fixture.clock.waitForSleepers(2)  // the poll ticker and the rescuer
        fixture.clock.advance(by: .seconds(2))
        #expect(await fixture.nextStart() == 7)
        // Its cancellation arrives by NOTIFY: the work stops before any renewal.
        fixture.source.notify.yield("cancel:acme:7")
        while !fixture.source.log.contains("cancelled 7") { await Task.yield() }
        running.cancel()
        try await running.value
        #expect(fixture.source.log == ["claim 6", "run 6", "completed 6", "claim 7", "run 7", "work stopped 7", "cancelled 7", "release"])
    }
}
