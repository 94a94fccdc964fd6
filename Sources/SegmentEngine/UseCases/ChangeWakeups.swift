import Logging
import SegmentDomain
import SegmentStore
import Synchronization

/// Wakes this process's change watchers when their tenant's membership changes
/// commit, so a watch stream delivers a change within a notification's round trip.
///
/// Each commit that appends to the change log sends a NOTIFY with the tenant
/// (migration 17); one LISTEN connection per process (``run(changeLog:logger:)``)
/// bumps that tenant's generation and wakes its watchers. A watcher reads the
/// generation before it reads the log and waits for it to move past that, so a
/// change committed between the read and the wait is never slept through. The
/// connection is held only while some watch is open; whenever listening starts,
/// every watcher looks again (a change may have committed while no one listened),
/// and a wait also ends at its timeout (the heartbeat), so a lost connection
/// delays changes, never loses them.
public final class ChangeWakeups: Sendable {
    private struct Waiter {
        let tenant: String
        let seen: UInt64
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var generations: [String: UInt64] = [:]
        /// Every tenant's generation moves past this on a wake-all (listening began).
        var floor: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
        /// Open watch streams (the connection listens while there are any).
        var watches = 0
        var watchesChanged: [UInt64: CheckedContinuation<Void, Never>] = [:]

        func generation(_ tenant: String) -> UInt64 { max(generations[tenant] ?? 0, floor) }
    }

    private let state = Mutex(State())
    private let clock: any Clock<Duration>

    public init(clock: any Clock<Duration> = ContinuousClock()) {
        self.clock = clock
    }

    /// The tenant's generation now: read it before reading the log.
    public func generation(of tenant: TenantID) -> UInt64 {
        state.withLock { $0.generation(tenant.rawValue) }
    }

    /// Runs `body` as an open watch (the process listens while any is open).
    public func watching<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        adjustWatches(by: 1)
        defer { adjustWatches(by: -1) }
        return try await body()
    }

    private func adjustWatches(by delta: Int) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.watches += delta
            defer { state.watchesChanged = [:] }
            return Array(state.watchesChanged.values)
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once the tenant's generation has moved past `seen`, after `timeout`, or when cancelled.
    public func wait(tenant: TenantID, beyond seen: UInt64, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.signal(tenant: tenant.rawValue, beyond: seen) }
            group.addTask { [clock] in try? await clock.sleep(for: timeout, tolerance: nil) }
            await group.next()
            group.cancelAll()
        }
    }

    private func signal(tenant: String, beyond seen: UInt64) async {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.generation(tenant) > seen || Task.isCancelled { return true }
                    state.waiters[id] = Waiter(tenant: tenant, seen: seen, continuation: continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }

    /// A change of `tenant` committed (nil: of any tenant, when listening begins).
    func notify(_ tenant: String?) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if let tenant {
                state.generations[tenant] = state.generation(tenant) + 1
            } else {
                state.floor = (state.generations.values.max() ?? state.floor) + 1
                state.generations = [:]
            }
            let woken = state.waiters.filter { state.generation($0.value.tenant) > $0.value.seen }
            for id in woken.keys { state.waiters.removeValue(forKey: id) }
            return woken.values.map(\.continuation)
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once the number of open watches satisfies `condition`, or when cancelled.
    private func untilWatches(_ condition: @escaping @Sendable (Int) -> Bool) async {
        while !Task.isCancelled {
            let id = state.withLock { state -> UInt64 in
                state.nextID += 1
                return state.nextID
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let now = state.withLock { state -> Bool in
                        if condition(state.watches) || Task.isCancelled { return true }
                        state.watchesChanged[id] = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
            } onCancel: {
                state.withLock { $0.watchesChanged.removeValue(forKey: id) }?.resume()
            }
            if state.withLock({ condition($0.watches) }) { return }
        }
    }

    /// Listens for change notifications while watches are open, until cancelled;
    /// reconnects after a lost connection.
    public func run(changeLog: ChangeLogStore, logger: Logger) async {
        while !Task.isCancelled {
            await untilWatches { $0 > 0 }
            if Task.isCancelled { break }
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await changeLog.listen {
                            self.notify(nil)
                        } changed: { tenant in
                            self.notify(tenant)
                        }
                    }
                    group.addTask {
                        await self.untilWatches { $0 == 0 }
                        throw CancellationError()
                    }
                    try await group.next()
                    group.cancelAll()
                }
            } catch {
                if Task.isCancelled { break }
                if !(error is CancellationError) {
                    logger.warning("membership change notifications stopped; watches look at each heartbeat", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}
