import Logging
import SegmentDomain
import SegmentStore
import Synchronization

/// Wakes this process's operation waits when their job changes, so a wait sees
/// a finished job within a notification's round trip instead of at its next poll.
///
/// Every visible change of a job sends a NOTIFY from the transaction that makes
/// it (delivered when that commits); one LISTEN connection per process
/// (``run(queue:logger:linger:)``) wakes the waits registered under that job. The
/// connection is held only while some wait is open (and `linger` after the last),
/// so a process nobody waits on holds no extra connection. A wait also looks on
/// its own every poll interval, for a notification lost while the connection was
/// down; whenever listening starts, every wait looks again.
public final class OperationWakeups: Sendable {
    struct Key: Hashable, Sendable {
        let tenant: String
        let jobID: Int64
    }

    private struct Waiter {
        let key: Key
        /// A notification came since the wait last looked.
        var signalled = false
        var continuation: CheckedContinuation<Void, Never>?
    }

    /// Someone waiting for the number of registered waits to satisfy a condition.
    private struct CountWaiter {
        let condition: @Sendable (Int) -> Bool
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var waiters: [UInt64: Waiter] = [:]
        var byKey: [Key: Set<UInt64>] = [:]
        var nextID: UInt64 = 0
        var listening = false
        var countWaiters: [UInt64: CountWaiter] = [:]

        mutating func makeID() -> UInt64 {
            nextID += 1
            return nextID
        }

        /// The count waiters whose condition holds now, removed.
        mutating func readyCountWaiters() -> [CheckedContinuation<Void, Never>] {
            let count = waiters.count
            let ready = countWaiters.filter { $0.value.condition(count) }
            for id in ready.keys { countWaiters.removeValue(forKey: id) }
            return ready.values.map(\.continuation)
        }
    }

    private let state = Mutex(State())
    private let clock: any Clock<Duration>

    /// - Parameter clock: What timeouts and the linger sleep on; tests inject one.
    public init(clock: any Clock<Duration> = ContinuousClock()) {
        self.clock = clock
    }

    /// Waits registered now.
    public var waiting: Int { state.withLock { $0.waiters.count } }

    /// Whether notifications arrive now (otherwise waits rely on their poll).
    public var isListening: Bool { state.withLock { $0.listening } }

    /// Returns once no wait is registered (a test proves a wait ended with its call), or when cancelled.
    public func whenNoneWaiting() async {
        await wait(untilCount: { $0 == 0 })
    }

    /// Returns once the number of registered waits satisfies `condition`, or when the task is cancelled.
    private func wait(untilCount condition: @escaping @Sendable (Int) -> Bool) async {
        let id = state.withLock { $0.makeID() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if condition(state.waiters.count) || Task.isCancelled { return true }
                    state.countWaiters[id] = CountWaiter(condition: condition, continuation: continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.countWaiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }

    /// A wait registered under one job, from ``watching(tenant:jobID:_:)``.
    public struct Watch: Sendable {
        let wakeups: OperationWakeups
        let id: UInt64

        /// Returns at the first notification for the job since the last call (at once when
        /// one came meanwhile), after `timeout`, or when the task is cancelled.
        public func next(timeout: Duration) async {
            await wakeups.next(id, timeout: timeout)
        }
    }

    /// Runs `body` with a wait registered under the job; register before reading the job,
    /// so a change committed between the read and the wait still wakes it.
    public func watching<Result>(tenant: TenantID, jobID: Int64, _ body: (Watch) async throws -> Result) async throws -> Result {
        let (id, ready) = state.withLock { state -> (UInt64, [CheckedContinuation<Void, Never>]) in
            let id = state.makeID()
            let key = Key(tenant: tenant.rawValue, jobID: jobID)
            state.waiters[id] = Waiter(key: key)
            state.byKey[key, default: []].insert(id)
            return (id, state.readyCountWaiters())
        }
        for continuation in ready { continuation.resume() }
        defer { unregister(id) }
        return try await body(Watch(wakeups: self, id: id))
    }

    private func unregister(_ id: UInt64) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            var ready: [CheckedContinuation<Void, Never>] = []
            if let removed = state.waiters.removeValue(forKey: id) {
                state.byKey[removed.key]?.remove(id)
                if state.byKey[removed.key]?.isEmpty == true { state.byKey[removed.key] = nil }
                if let continuation = removed.continuation { ready.append(continuation) }
            }
            return ready + state.readyCountWaiters()
        }
        for continuation in ready { continuation.resume() }
    }

    private func next(_ id: UInt64, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.signal(id) }
            group.addTask { [clock] in try? await clock.sleep(for: timeout, tolerance: nil) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Returns when the waiter is signalled (consuming the signal) or the task is cancelled.
    private func signal(_ id: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    guard var waiter = state.waiters[id] else { return true }
                    if waiter.signalled || Task.isCancelled {
                        waiter.signalled = false
                        state.waiters[id] = waiter
                        return true
                    }
                    waiter.continuation = continuation
                    state.waiters[id] = waiter
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiters[id]?.continuation = nil }
                return state.waiters[id]?.continuation
            }
            continuation?.resume()
        }
    }

    /// Wakes the waits of one job, or of all jobs.
    func notify(_ key: Key?) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            var ready: [CheckedContinuation<Void, Never>] = []
            let ids = key.map { state.byKey[$0] ?? [] } ?? Set(state.waiters.keys)
            for id in ids {
                guard let waiter = state.waiters[id] else { continue }
                if let continuation = waiter.continuation {
                    ready.append(continuation)
                    state.waiters[id]?.continuation = nil
                } else {
                    state.waiters[id]?.signalled = true
                }
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Listens for job changes while waits are open (and `linger` after the last one ends,
    /// so back-to-back waits share one LISTEN), until cancelled; reconnects after a lost
    /// connection. Holds one pooled connection while it listens.
    public func run(queue: JobQueue, logger: Logger, linger: Duration = .seconds(5)) async {
        while !Task.isCancelled {
            await wait(untilCount: { $0 > 0 })
            if Task.isCancelled { break }
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await queue.listenForUpdates {
                            // A change committed before LISTEN took effect notified nobody: every wait looks again.
                            self.state.withLock { $0.listening = true }
                            self.notify(nil)
                        } updated: { tenant, jobID in
                            self.notify(Key(tenant: tenant, jobID: jobID))
                        }
                    }
                    group.addTask { await self.idle(for: linger) }
                    try await group.next()
                    group.cancelAll()
                }
                state.withLock { $0.listening = false }
            } catch {
                state.withLock { $0.listening = false }
                if Task.isCancelled { break }
                logger.warning("job notifications stopped; operation waits poll until they resume", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        state.withLock { $0.listening = false }
    }

    /// Returns once no wait has been open for `linger` (or when cancelled).
    private func idle(for linger: Duration) async {
        while !Task.isCancelled {
            await whenNoneWaiting()
            guard (try? await clock.sleep(for: linger, tolerance: nil)) != nil else { return }
            if waiting == 0 { return }
        }
    }
}
