import Logging
import SegmentDomain
import SegmentStore
import Synchronization

/// Wakes this process's operation waits when their job changes, so a wait sees
/// a finished job within a notification's round trip instead of at its next poll.
///
/// Every visible change of a job sends a NOTIFY from the transaction that makes
/// it (delivered when that commits); one LISTEN connection per process (``run(queue:logger:)``)
/// wakes the waits registered under that job. A wait also looks on its own every
/// poll interval, for a notification lost while the connection was down; when the
/// connection comes back, every wait looks again.
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

    private struct State {
        var waiters: [UInt64: Waiter] = [:]
        var byKey: [Key: Set<UInt64>] = [:]
        var nextID: UInt64 = 0
        var listening = false
        var idle: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let clock: any Clock<Duration>

    /// - Parameter clock: What timeouts sleep on; tests inject one.
    public init(clock: any Clock<Duration> = ContinuousClock()) {
        self.clock = clock
    }

    /// Waits registered now.
    public var waiting: Int { state.withLock { $0.waiters.count } }

    /// Whether notifications arrive now (otherwise waits rely on their poll).
    public var isListening: Bool { state.withLock { $0.listening } }

    /// Returns once no wait is registered (a test proves a wait ended with its call).
    public func whenNoneWaiting() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.waiters.isEmpty { return true }
                state.idle.append(continuation)
                return false
            }
            if now { continuation.resume() }
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
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            let key = Key(tenant: tenant.rawValue, jobID: jobID)
            state.waiters[state.nextID] = Waiter(key: key)
            state.byKey[key, default: []].insert(state.nextID)
            return state.nextID
        }
        defer { unregister(id) }
        return try await body(Watch(wakeups: self, id: id))
    }

    private func unregister(_ id: UInt64) {
        let (continuation, idle) = state.withLock { state -> (CheckedContinuation<Void, Never>?, [CheckedContinuation<Void, Never>]) in
            let removed = state.waiters.removeValue(forKey: id)
            if let key = removed?.key {
                state.byKey[key]?.remove(id)
                if state.byKey[key]?.isEmpty == true { state.byKey[key] = nil }
            }
            let continuation = removed?.continuation
            guard state.waiters.isEmpty else { return (continuation, []) }
            defer { state.idle.removeAll() }
            return (continuation, state.idle)
        }
        continuation?.resume()
        for waiter in idle { waiter.resume() }
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

    /// Listens for job changes until cancelled, reconnecting after a lost connection.
    /// Holds one pooled connection while it listens.
    public func run(queue: JobQueue, logger: Logger) async {
        while !Task.isCancelled {
            do {
                try await queue.listenForUpdates {
                    // A change committed before LISTEN took effect sent its notification to nobody: look again.
                    self.state.withLock { $0.listening = true }
                    self.notify(nil)
                } updated: { tenant, jobID in
                    self.notify(Key(tenant: tenant, jobID: jobID))
                }
            } catch {
                if Task.isCancelled { break }
                logger.warning("job notifications stopped; operation waits poll until they resume", metadata: ["error": "\(error)"])
            }
            state.withLock { $0.listening = false }
            try? await Task.sleep(for: .seconds(1))
        }
        state.withLock { $0.listening = false }
    }
}
