import Foundation
import Logging
import Metrics
import SegmentDomain
import SegmentStore

/// Keeps real-time segments true continuously, for the tenants this replica
/// holds the lease of.
///
/// Every `discoveryInterval` (and on ``sync(_:)``) it looks for tenants with
/// real-time segments and takes the lease of those no live replica holds
/// (``RealtimeStore/acquire(_:owner:for:now:)``: owner, epoch, expiry). Per
/// owned tenant one loop runs cycles (``RealtimeTenant``): after each batch the
/// audience engine catches up on (ingest on any replica notifies), when the
/// earliest window edge passes, and at each discovery. The loop renews its lease
/// at a third of its duration left; a loop whose lease was taken over stops, and
/// its writes are refused by the epoch. A graceful stop gives the leases up so
/// another replica takes over at once; a crash leaves them to expire.
public actor RealtimeSegments {
    /// How the replica holds and keeps tenants.
    public struct Settings: Sendable {
        /// This replica's name in lease rows (unique per process).
        public var owner: String
        /// How long a lease lasts without renewal (another replica takes over after).
        public var leaseDuration: Duration = .seconds(15)
        /// How often tenants with real-time segments are looked for (and segments re-read).
        public var discoveryInterval: Duration = .seconds(2)
        /// Past this many seconds behind a window edge, users are evaluated at the present.
        public var catchUpLimit: TimeInterval = 60
        public init(owner: String = "segmentd-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))") {
            self.owner = owner
        }
    }

    /// What this replica does for one tenant, for diagnostics and tests.
    public struct TenantStatus: Sendable, Equatable {
        public var epoch: Int64
        public var segments: Int
        public var pendingDeadlines: Int
        public var cycles: Int
    }

    private struct Loop {
        var task: Task<Void, Never>
        let wake: WakeSignal
        var epoch: Int64
        /// Cycles asked for by ``sync(_:)``, and the request count when the last finished cycle began.
        var requested = 0
        var finishedRequest = 0
        var cycles = 0
        var segments = 0
        var pendingDeadlines = 0
        var waiters: [(ticket: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let store: RealtimeStore
    private let audiences: AudienceRegistry
    private let clock: @Sendable () -> Date
    private let timer: any WallTimer
    public nonisolated let settings: Settings
    private let logger: Logger
    private var loops: [TenantID: Loop] = [:]
    private var isShutDown = false
    private var observing = false

    private let ownedGauge = Gauge(label: "segmentd_realtime_tenants_owned")
    private let cycleTimer = Metrics.Timer(label: "segmentd_realtime_cycle_seconds")

    public init(
        store: RealtimeStore, audiences: AudienceRegistry, settings: Settings, clock: @escaping @Sendable () -> Date, timer: any WallTimer,
        logger: Logger
    ) {
        self.store = store
        self.audiences = audiences
        self.settings = settings
        self.clock = clock
        self.timer = timer
        self.logger = logger
    }

    /// Looks for tenants every `discoveryInterval` until cancelled, then gives up the leases.
    public func run() async {
        await observeAudiences()
        while !Task.isCancelled {
            await discover()
            let next = clock().addingTimeInterval(settings.discoveryInterval.timeInterval)
            do { try await timer.sleep(until: next) } catch { break }
        }
        await shutdown(releasing: true)
    }

    private func observeAudiences() async {
        guard !observing else { return }
        observing = true
        await audiences.observe { [weak self] tenant in await self?.changed(tenant) }
    }

    /// One look for tenants: takes the leases of those with real-time segments that no
    /// live replica holds, and wakes the loops already running (segments are re-read).
    public func discover() async {
        guard !isShutDown else { return }
        await observeAudiences()
        let tenants: [TenantID]
        do {
            tenants = try await store.tenantsWithRealtimeSegments()
        } catch {
            logger.warning("could not look for tenants with real-time segments", metadata: ["error": "\(error)"])
            return
        }
        for tenant in tenants {
            if let loop = loops[tenant] {
                loop.wake.signal()
                continue
            }
            do {
                guard let lease = try await store.acquire(tenant, owner: settings.owner, for: settings.leaseDuration, now: clock()),
                    !isShutDown, loops[tenant] == nil
                else { continue }
                start(tenant, lease: lease)
            } catch {
                logger.warning("could not take a real-time lease", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
            }
        }
    }

    /// The tenant's data changed (an ingest batch the audience applied): its loop goes round.
    public func changed(_ tenant: TenantID) {
        loops[tenant]?.wake.signal()
    }

    /// Returns once a cycle that began after this call finished (taking the lease first if
    /// no replica holds it): every batch acknowledged before the call is then reflected
    /// in the tenant's real-time segments, and every edge before the clock's present.
    /// Returns at once when another replica owns the tenant.
    public func sync(_ tenant: TenantID) async {
        if loops[tenant] == nil { await discover() }
        guard var loop = loops[tenant] else { return }
        loop.requested += 1
        let ticket = loop.requested
        loops[tenant] = loop
        loop.wake.signal()
        await withCheckedContinuation { continuation in
            loops[tenant]?.waiters.append((ticket, continuation))
        }
    }

    /// The tenants this replica owns, with what their loops hold.
    public var owned: [TenantID: TenantStatus] {
        loops.mapValues { TenantStatus(epoch: $0.epoch, segments: $0.segments, pendingDeadlines: $0.pendingDeadlines, cycles: $0.cycles) }
    }

    /// Stops every loop; with `releasing`, gives their leases up (a graceful stop), else
    /// leaves them to expire (what a crash does, for tests).
    public func shutdown(releasing: Bool) async {
        isShutDown = true
        let running = loops
        for loop in running.values { loop.task.cancel() }
        for loop in running.values { await loop.task.value }
        if releasing {
            for (tenant, loop) in running {
                let lease = RealtimeLease(tenant: tenant, owner: settings.owner, epoch: loop.epoch, expiresAt: clock())
                try? await store.release(lease, now: clock())
            }
        }
    }

    // MARK: The loop

    private func start(_ tenant: TenantID, lease: RealtimeLease) {
        let wake = WakeSignal()
        let context = LoopContext(
            store: store, audiences: audiences, clock: clock, timer: timer, settings: settings, logger: logger, wake: wake, owner: self)
        let task = Task { await context.run(tenant, lease: lease) }
        loops[tenant] = Loop(task: task, wake: wake, epoch: lease.epoch)
        ownedGauge.record(loops.count)
        logger.info("took the real-time lease", metadata: ["tenant": "\(tenant)", "epoch": "\(lease.epoch)"])
    }

    /// The ticket a cycle starting now fulfils, and whether a ``sync(_:)`` waits for it.
    fileprivate func cycleStarting(_ tenant: TenantID) -> (ticket: Int, syncWaiting: Bool) {
        guard let loop = loops[tenant] else { return (0, false) }
        return (loop.requested, loop.requested > loop.finishedRequest)
    }

    fileprivate func cycleFinished(_ tenant: TenantID, ticket: Int, state: RealtimeTenant, duration: Duration?) {
        guard var loop = loops[tenant] else { return }
        loop.finishedRequest = max(loop.finishedRequest, ticket)
        loop.cycles += 1
        loop.segments = state.segments.count
        loop.pendingDeadlines = state.pendingDeadlines
        loop.epoch = state.lease.epoch
        let ready = loop.waiters.filter { $0.ticket <= loop.finishedRequest }
        loop.waiters.removeAll { $0.ticket <= loop.finishedRequest }
        loops[tenant] = loop
        for waiter in ready { waiter.continuation.resume() }
        if let duration {
            cycleTimer.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        }
    }

    fileprivate func loopEnded(_ tenant: TenantID, reason: String) {
        guard let loop = loops.removeValue(forKey: tenant) else { return }
        for waiter in loop.waiters { waiter.continuation.resume() }
        ownedGauge.record(loops.count)
        logger.info("stopped keeping the tenant's real-time segments", metadata: ["tenant": "\(tenant)", "reason": "\(reason)"])
    }
}

/// What one tenant's loop runs with (outside the actor: a cycle awaits the database).
private struct LoopContext: Sendable {
    let store: RealtimeStore
    let audiences: AudienceRegistry
    let clock: @Sendable () -> Date
    let timer: any WallTimer
    let settings: RealtimeSegments.Settings
    let logger: Logger
    let wake: WakeSignal
    let owner: RealtimeSegments

    func run(_ tenant: TenantID, lease: RealtimeLease) async {
        var state = RealtimeTenant(tenant: tenant, store: store, lease: lease)
        state.catchUpLimit = settings.catchUpLimit
        let leaseSeconds = settings.leaseDuration.timeInterval
        var reason = "cancelled"
        var warnedUnloaded = false
        // The state the last cycle ran on holds every batch acknowledged before this instant…
        var lastCovered: ContinuousClock.Instant?
        // …and was this one (its load, and how many catch-ups and appended batches it had).
        var lastSeen: (generation: UUID, serial: Int)?
        var lastInstant: Date?
        while !Task.isCancelled {
            let (ticket, syncWaiting) = await owner.cycleStarting(tenant)
            let started = ContinuousClock.now
            let now = clock()
            var measured: Duration?
            do {
                if state.lease.expiresAt.timeIntervalSince(now) < leaseSeconds * 2 / 3 {
                    guard let renewed = try await store.renew(state.lease, for: settings.leaseDuration, now: now) else {
                        reason = "the lease was taken over"
                        break
                    }
                    state.lease = renewed
                }
                var current: TenantAudience?
                var instant = now
                var touchedAt: Date?
                if !syncWaiting, let latest = await audiences.latest(for: tenant), let covered = lastCovered, let seen = lastSeen,
                    latest.covers > covered
                        || (latest.audience.generation == seen.generation && latest.audience.overlay.serial > seen.serial),
                    latest.coversDate <= now
                {
                    // The state moved since the last cycle (a catch-up, or a batch this replica's ingest
                    // appended as it committed): run on it without waiting for another catch-up. Window
                    // edges are taken up to the instant it holds every batch before (so a user leaves at
                    // an edge only on complete data); the users touched, at the present.
                    current = latest.audience
                    instant = max(latest.coversDate, lastInstant ?? latest.coversDate)
                    touchedAt = now
                    lastCovered = max(latest.covers, covered)
                } else {
                    let asked = ContinuousClock.now
                    current = await audiences.current(for: tenant)
                    if current == nil {
                        // Not loaded yet: load it now (the cycle waits; the segments follow once it is in).
                        await audiences.load(tenant)
                        current = await audiences.current(for: tenant)
                    }
                    // The state obtained may be newer than asked for: the next cycle needs a newer still.
                    lastCovered = await audiences.latest(for: tenant)?.covers ?? asked
                    var waited = RealtimeTenant.CyclePhases(since: asked)
                    waited.end("audience_wait")
                }
                if let audience = current {
                    lastSeen = (audience.generation, audience.overlay.serial)
                    let outcome = try await state.cycle(now: instant, touchedAt: touchedAt, audience: audience)
                    lastInstant = instant
                    measured = ContinuousClock.now - started
                    if outcome.segments == 0 {
                        try? await store.release(state.lease, now: now)
                        reason = "no real-time segments left"
                        await owner.cycleFinished(tenant, ticket: ticket, state: state, duration: measured)
                        break
                    }
                    if outcome.entered + outcome.exited > 0 {
                        Counter(label: "segmentd_realtime_changes_total", dimensions: [("change", "entered")]).increment(by: outcome.entered)
                        Counter(label: "segmentd_realtime_changes_total", dimensions: [("change", "exited")]).increment(by: outcome.exited)
                    }
                } else if !warnedUnloaded {
                    // Over the engine's budget, or a failed load (logged by the registry): said once, retried at each discovery.
                    warnedUnloaded = true
                    logger.warning("the tenant's audience could not be loaded; its real-time segments wait", metadata: ["tenant": "\(tenant)"])
                }
            } catch RealtimeWriteRefusal.leaseLost {
                reason = "the lease was taken over"
                break
            } catch is CancellationError {
                break
            } catch {
                if Task.isCancelled { break }
                // A segment written by someone else meanwhile (or a failed read): start over from what is stored.
                Counter(label: "segmentd_realtime_restarts_total").increment()
                logger.notice("real-time segments start over from the stored members", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
                if !(error is RealtimeWriteRefusal) {
                    // A failing database: do not spin (a refused write, by contrast, is retried at once).
                    try? await Task.sleep(for: .milliseconds(500))
                }
                let lease = state.lease
                state = RealtimeTenant(tenant: tenant, store: store, lease: lease)
                lastCovered = nil
                lastSeen = nil
                state.catchUpLimit = settings.catchUpLimit
                wake.signal()
            }
            await owner.cycleFinished(tenant, ticket: ticket, state: state, duration: measured)
            let renewal = state.lease.expiresAt.addingTimeInterval(-leaseSeconds / 3)
            let next = [state.earliestDeadline, renewal].compactMap { $0 }.min()
            await wake.wait(until: next, timer: timer)
        }
        await owner.loopEnded(tenant, reason: reason)
    }
}

extension Duration {
    /// The duration in seconds.
    var timeInterval: TimeInterval {
        TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18
    }
}
