import SegmentDomain
import SegmentdTestSupport
import Synchronization
import Testing

@testable import SegmentEngine

/// The waits' side of job notifications, without a database: a notification wakes
/// the waits of its job only, one that came before the wait is not lost, and the
/// poll fallback fires on the test's clock.
@Suite("Operation wakeups: notifications wake their job's waits; the poll is a fallback")
struct OperationWakeupsTests {
    static let tenant = TenantID("acme")!

    @Test("a notification wakes the waits of its job; one that came while nobody waited is not lost")
    func wakesItsJob() async throws {
        let clock = TestClock()
        let wakeups = OperationWakeups(clock: clock)
        try await wakeups.watching(tenant: Self.tenant, jobID: 1) { first in
            try await wakeups.watching(tenant: Self.tenant, jobID: 2) { second in
                #expect(wakeups.waiting == 2)
                async let woken: Void = first.next(timeout: .seconds(3600))
                // Both waits sleep on the poll until a notification comes.
                await clock.waitForSleepers(1)
                wakeups.notify(.init(tenant: "acme", jobID: 2))
                wakeups.notify(.init(tenant: "acme", jobID: 1))
                await woken
                // Job 2's notification came while nobody waited on it: the next wait returns at once.
                await second.next(timeout: .seconds(3600))
            }
        }
        #expect(wakeups.waiting == 0)
        await wakeups.whenNoneWaiting()
    }

    @Test("without a notification a wait returns when the poll interval passes on the clock")
    func pollFallback() async throws {
        let clock = TestClock()
        let wakeups = OperationWakeups(clock: clock)
        try await wakeups.watching(tenant: Self.tenant, jobID: 7) { watch in
            async let polled: Void = watch.next(timeout: .seconds(5))
            await clock.waitForSleepers(1)
            clock.advance(by: .seconds(5))
            await polled
        }
    }

    @Test("a cancelled wait returns at once and unregisters")
    func cancelled() async throws {
        let clock = TestClock()
        let wakeups = OperationWakeups(clock: clock)
        let task = Task {
            try await wakeups.watching(tenant: Self.tenant, jobID: 9) { watch in
                await watch.next(timeout: .seconds(3600))
            }
        }
        await clock.waitForSleepers(1)
        task.cancel()
        try await task.value
        await wakeups.whenNoneWaiting()
        #expect(wakeups.waiting == 0)
    }
}
