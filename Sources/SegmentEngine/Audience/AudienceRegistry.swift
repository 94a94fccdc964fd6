import Foundation
import Logging
import Metrics
import SegmentDomain
import SegmentStore

/// The tenants whose audience is loaded in memory, under a memory budget, kept
/// current by applying what changed since each state's snapshot.
///
/// A tenant loads on first use, in the background: the refresh that asked goes
/// on with SQL, and later ones use the engine once the state is in. A refresh
/// asks for the state ``current(for:)``: the users changed since its snapshot
/// are read again in a newer snapshot and put in its overlay (one round trip
/// when nothing changed), so it holds every batch acknowledged before the
/// refresh began. Catch-ups of a tenant run one at a time and are shared by
/// everyone who asked before one began. A NOTIFY from any process's ingest
/// (``changed(_:)``) starts one in the background, so states stay close behind.
/// When the overlay holds more than `compactionThreshold` users the tenant is
/// loaded again (at most once per `reloadInterval`), folding it into columns.
/// Past the budget the tenants used longest ago are dropped first.
public actor AudienceRegistry {
    /// Limits of the registry.
    public struct Settings: Sendable {
        /// Bytes all loaded states may hold together (``TenantAudience/bytesHeld``).
        public var memoryBudget: Int
        /// The least time between two loads of one tenant.
        public var reloadInterval: Duration

        /// Users the overlay may hold before the tenant is loaded again: at least this many…
        public var compactionUsers: Int
        /// …or this fraction of the tenant's users, whichever is more.
        public var compactionFraction: Double

        public init(
            memoryBudget: Int, reloadInterval: Duration = .seconds(300), compactionUsers: Int = 2_000, compactionFraction: Double = 0.02
        ) {
            self.memoryBudget = memoryBudget
            self.reloadInterval = reloadInterval
            self.compactionUsers = compactionUsers
            self.compactionFraction = compactionFraction
        }

        /// The overlay size past which `audience` is loaded again.
        func compactionThreshold(_ audience: TenantAudience) -> Int {
            max(compactionUsers, Int(Double(audience.users.count) * compactionFraction))
        }
    }

    private struct Entry {
        var audience: TenantAudience
        var lastUsed: ContinuousClock.Instant
        /// The state holds every batch committed before this instant (its snapshot was taken after)…
        var covers: ContinuousClock.Instant
        /// …read on the registry's clock at the same moment.
        var coversDate: Date
    }

    private let loader: AudienceLoader
    private let settings: Settings
    private let logger: Logger
    private let clock: @Sendable () -> Date
    private var entries: [TenantID: Entry] = [:]
    private var loads: [TenantID: Task<Void, Never>] = [:]
    /// Set by ``shutdown()``: no background work starts after it.
    private var isShutDown = false
    private var lastLoadStarted: [TenantID: ContinuousClock.Instant] = [:]
    /// The catch-up running per tenant (at most one).
    private var catchUps: [TenantID: Task<Void, Never>] = [:]
    private var waiters: [(id: UUID, tenant: TenantID, holds: @Sendable (TenantAudience) -> Bool, continuation: CheckedContinuation<Void, Never>)] =
        []

    /// A batch this process's ingest committed, and the users of the tenant's current state it was
    /// appended to (never empty: a batch appended to no one is the catch-up's alone).
    private struct AppendedBatch {
        let batch: CommittedEvents
        var users: [UInt32]
    }

    /// Per tenant, the batches appended to its state that its snapshot does not see yet: a catch-up
    /// skips them, and appends them again to the state it makes if its snapshot does not see them either.
    private var appended: [TenantID: [AppendedBatch]] = [:]
    /// Per tenant, batches committed and not appended yet (``committed(_:)``).
    private var pending: [TenantID: [CommittedEvents]] = [:]

    /// Told when a tenant's state changed (a catch-up applied changes, or a load finished).
    private var observers: [@Sendable (TenantID) async -> Void] = []

    private let tenantsGauge = Gauge(label: "segmentd_engine_tenants_loaded")
    private let bytesGauge = Gauge(label: "segmentd_engine_bytes_held")
    private let loadTimer = Metrics.Timer(label: "segmentd_engine_load_seconds")
    /// How long a catch-up takes (read in a new snapshot, then applied): real-time freshness waits on it.
    private let catchUpTimer = Metrics.Timer(label: "segmentd_engine_catch_up_seconds")

    public init(loader: AudienceLoader, settings: Settings, logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.loader = loader
        self.settings = settings
        self.logger = logger
        self.clock = clock
    }

    /// The tenant's loaded state as it is (marked used), or nil; when nil, a load
    /// starts in the background unless one is running or started within `reloadInterval`.
    public func audience(for tenant: TenantID) -> TenantAudience? {
        appendPending(tenant)
        if let entry = entries[tenant] {
            entries[tenant]?.lastUsed = .now
            return entry.audience
        }
        startLoad(tenant)
        return nil
    }

    /// The tenant's state holding every batch committed before this call, or nil
    /// when it is not loaded (a load starts) or could not be brought up to date
    /// (it is loaded again): the caller evaluates in SQL then.
    public func current(for tenant: TenantID) async -> TenantAudience? {
        let asked = ContinuousClock.now
        while true {
            appendPending(tenant)
            guard let entry = entries[tenant] else {
                startLoad(tenant)
                return nil
            }
            if entry.covers >= asked {
                entries[tenant]?.lastUsed = .now
                return entry.audience
            }
            // Changes older than the record's retention may be gone: load again.
            guard asked - entry.covers < .seconds(AudienceChanges.retention / 2) else {
                stale(tenant)
                return nil
            }
            let running = catchUps[tenant] ?? startCatchUp(tenant, from: entry.audience)
            await running.value
            // A catch-up that began before we asked may miss a batch acknowledged before: go round again.
            if entries[tenant] == nil { return nil }
        }
    }

    /// The tenant's state as it is, and when it was current: it holds every batch acknowledged
    /// before `covers` (`coversDate` on the registry's clock). Nil when not loaded; starts
    /// nothing. Real-time cycles run on the state a catch-up just made instead of waiting
    /// for another (``current(for:)``), evaluating as of `coversDate`.
    public func latest(for tenant: TenantID) -> (audience: TenantAudience, covers: ContinuousClock.Instant, coversDate: Date)? {
        appendPending(tenant)
        guard let entry = entries[tenant] else { return nil }
        entries[tenant]?.lastUsed = .now
        return (entry.audience, entry.covers, entry.coversDate)
    }

    /// This process's ingest committed `batch`: its events are appended to the users the state
    /// holds whole (``TenantAudience/append(_:)``) before anyone next reads the state, and real-time
    /// segments are told, so an event reaches them without waiting for the catch-up that reads the
    /// batch back. The snapshot and `covers` stay: the batch's other users, and batches committed
    /// elsewhere, still come with that catch-up (which skips what was appended here).
    ///
    /// Batches wait in `pending` until the state is next read, and are appended together: the
    /// overlay is copied when it is shared (a running catch-up or cycle holds the previous
    /// state), so appending each batch as it came copied it once per batch.
    public func committed(_ batch: CommittedEvents) {
        let tenant = batch.tenant
        // (A batch pending may create a user this one follows.)
        guard !isShutDown, let entry = entries[tenant], pending[tenant] != nil || entry.audience.mayAppend(batch) else { return }
        pending[tenant, default: []].append(batch)
        notifyObservers(tenant)
    }

    /// Appends the tenant's pending batches to its state, in one copy of the overlay.
    private func appendPending(_ tenant: TenantID) {
        guard let batches = pending.removeValue(forKey: tenant), var audience = entries[tenant]?.audience,
            let snapshot = DatabaseSnapshot(audience.databaseSnapshot)
        else { return }
        var changed = false
        for batch in batches where !snapshot.sees(batch.transaction) {
            let users = audience.append(batch)
            guard !users.isEmpty else { continue }
            appended[tenant, default: []].append(AppendedBatch(batch: batch, users: users))
            changed = true
        }
        if changed { entries[tenant]?.audience = audience }
    }

    /// Another process (or this one) committed a change to the tenant's data: catch
    /// up in the background if it is loaded and no catch-up is running.
    public func changed(_ tenant: TenantID) {
        guard !isShutDown, let entry = entries[tenant], catchUps[tenant] == nil else { return }
        _ = startCatchUp(tenant, from: entry.audience)
    }

    private func startCatchUp(_ tenant: TenantID, from current: TenantAudience) -> Task<Void, Never> {
        // The catch-up skips what was appended: everything pending is appended first.
        appendPending(tenant)
        let audience = entries[tenant]?.audience ?? current
        let beganDate = clock()
        let began = ContinuousClock.now
        let source = loader.source
        let applied = Set(
            (appended[tenant] ?? []).flatMap { batch in batch.users.map { TransactionUser(transaction: batch.batch.transaction, user: $0) } })
        let task = Task {
            let outcome: Result<AudienceCatchUp, any Error>
            do {
                outcome = .success(
                    try await AudienceCatchUp.read(
                        tenant: tenant, since: audience.databaseSnapshot, holding: audience.overlay.facts, applied: applied,
                        database: source.database))
            } catch {
                outcome = .failure(error)
            }
            self.finishCatchUp(tenant, from: audience, began: began, beganDate: beganDate, outcome)
        }
        catchUps[tenant] = task
        return task
    }

    private func finishCatchUp(
        _ tenant: TenantID, from audience: TenantAudience, began: ContinuousClock.Instant, beganDate: Date,
        _ outcome: Result<AudienceCatchUp, any Error>
    ) {
        catchUps[tenant] = nil
        appendPending(tenant)
        let took = ContinuousClock.now - began
        catchUpTimer.recordNanoseconds(took.components.seconds * 1_000_000_000 + took.components.attoseconds / 1_000_000_000)
        // A load that finished meanwhile replaced the state: this catch-up was of the old one.
        guard let entry = entries[tenant], entry.audience.databaseSnapshot == audience.databaseSnapshot else { return }
        switch outcome {
        case .failure(let error):
            logger.warning("could not bring the audience up to date; loading it again", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
            Counter(label: "segmentd_engine_catch_ups_total", dimensions: [("outcome", "failed")]).increment()
            stale(tenant)
        case .success(let catchUp) where catchUp.unknownUsers:
            Counter(label: "segmentd_engine_catch_ups_total", dimensions: [("outcome", "reload")]).increment()
            stale(tenant)
        case .success(let catchUp):
            Counter(label: "segmentd_engine_catch_ups_total", dimensions: [("outcome", catchUp.isEmpty ? "unchanged" : "applied")]).increment()
            let (next, reappended) = advance(audience, by: catchUp, current: entry.audience, tenant: tenant)
            entries[tenant] = Entry(audience: next, lastUsed: entry.lastUsed, covers: began, coversDate: beganDate)
            if next.overlay.count > settings.compactionThreshold(next) { startLoad(tenant) }
            if !catchUp.isEmpty || reappended {
                publish()
                resumeWaiters(tenant)
                notifyObservers(tenant)
            }
        }
    }

    /// The state a catch-up makes: `base` (the state it began from) with `catchUp` applied, and the
    /// batches appended to the `current` state since that its snapshot does not see appended again.
    /// Returns whether any was (their users are evaluated again by real time, which is harmless).
    private func advance(
        _ base: TenantAudience, by catchUp: AudienceCatchUp, current: TenantAudience, tenant: TenantID
    ) -> (TenantAudience, reappended: Bool) {
        guard let batches = appended[tenant] else { return (catchUp.isEmpty ? base : base.applying(catchUp), false) }
        var next = base
        // Real-time segments look for users touched after the serial they last saw, which may be the current state's.
        next.overlay.continueSerial(after: current.overlay.serial)
        next = next.applying(catchUp)
        let snapshot = DatabaseSnapshot(next.databaseSnapshot)
        var kept: [AppendedBatch] = []
        for var batch in batches where !(snapshot?.sees(batch.batch.transaction) ?? false) {
            batch.users = next.append(batch.batch)
            if !batch.users.isEmpty { kept.append(batch) }
        }
        appended[tenant] = kept.isEmpty ? nil : kept
        return (next, !kept.isEmpty)
    }

    /// The tenant's state no longer matches the database: it is dropped, and loaded again.
    public func stale(_ tenant: TenantID) {
        appended[tenant] = nil
        pending[tenant] = nil
        if entries.removeValue(forKey: tenant) != nil { publish() }
        startLoad(tenant)
    }

    /// Loads the tenant now (waiting for a load already running), whatever the interval.
    public func load(_ tenant: TenantID) async {
        if loads[tenant] == nil { startLoad(tenant, force: true) }
        await loads[tenant]?.value
    }

    /// Stops background work before the database goes away: running loads and catch-ups are
    /// cancelled and awaited, and none starts after. The audience listener calls it on graceful
    /// shutdown (services stop in reverse order, so the pool is still up): a load still reading
    /// when the pool shut down could keep the shutdown waiting.
    public func shutdown() async {
        isShutDown = true
        let running = Array(loads.values) + Array(catchUps.values)
        for task in running { task.cancel() }
        for task in running { await task.value }
    }

    /// Calls `observer` (in the background) after each change of a loaded state: real-time
    /// segments re-evaluate the users an ingest batch touched as soon as it is applied.
    public func observe(_ observer: @escaping @Sendable (TenantID) async -> Void) {
        observers.append(observer)
    }

    private func notifyObservers(_ tenant: TenantID) {
        for observer in observers { Task { await observer(tenant) } }
    }

    /// Waits for the tenant's background load, if one is running.
    public func waitForLoad(_ tenant: TenantID) async {
        await loads[tenant]?.value
    }

    /// Waits until the tenant's state satisfies `holds` (checked whenever it changes), or the
    /// task is cancelled: lets callers await a background load or catch-up instead of polling.
    public func wait(for tenant: TenantID, until holds: @escaping @Sendable (TenantAudience) -> Bool) async {
        if let entry = entries[tenant], holds(entry.audience) { return }
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume()
                } else {
                    waiters.append((id, tenant, holds, continuation))
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: UUID) {
        guard let position = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: position).continuation.resume()
    }

    private func resumeWaiters(_ tenant: TenantID) {
        guard let audience = entries[tenant]?.audience else { return }
        waiters.removeAll { waiter in
            guard waiter.tenant == tenant, waiter.holds(audience) else { return false }
            waiter.continuation.resume()
            return true
        }
    }

    /// The loads, catch-ups and waiters pending now, for diagnostics.
    public var backgroundWork: String {
        "loads \(loads.keys.map(\.rawValue).sorted()), catch-ups \(catchUps.keys.map(\.rawValue).sorted()), waiters \(waiters.count), "
            + "loaded \(entries.keys.map(\.rawValue).sorted()), shut down \(isShutDown)"
    }

    /// Tenants loaded now.
    public var loadedTenants: Set<TenantID> { Set(entries.keys) }

    /// Bytes the loaded states hold.
    public var bytesHeld: Int { entries.values.reduce(0) { $0 + $1.audience.bytesHeld } }

    private func startLoad(_ tenant: TenantID, force: Bool = false) {
        guard loads[tenant] == nil, settings.memoryBudget > 0, !isShutDown else { return }
        let nowDate = clock()
        let now = ContinuousClock.now
        if !force, let last = lastLoadStarted[tenant], now - last < settings.reloadInterval { return }
        lastLoadStarted[tenant] = now
        let loader = loader
        loads[tenant] = Task {
            let outcome: Result<AudienceLoader.Loaded, any Error>
            do { outcome = .success(try await loader.load(tenant)) } catch { outcome = .failure(error) }
            self.finish(tenant, began: now, beganDate: nowDate, outcome)
        }
    }

    private func finish(
        _ tenant: TenantID, began: ContinuousClock.Instant, beganDate: Date, _ outcome: Result<AudienceLoader.Loaded, any Error>
    ) {
        loads[tenant] = nil
        switch outcome {
        case .failure(let error):
            Counter(label: "segmentd_engine_loads_total", dimensions: [("outcome", "failed")]).increment()
            logger.warning("could not load the audience; refreshes use SQL", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
        case .success(let loaded):
            loadTimer.recordNanoseconds(loaded.duration.components.seconds * 1_000_000_000 + loaded.duration.components.attoseconds / 1_000_000_000)
            let bytes = loaded.audience.bytesHeld
            guard bytes <= settings.memoryBudget else {
                Counter(label: "segmentd_engine_loads_total", dimensions: [("outcome", "over_budget")]).increment()
                logger.warning(
                    "the tenant's audience is larger than the engine's memory budget; its refreshes use SQL",
                    metadata: ["tenant": "\(tenant)", "bytes": "\(bytes)", "budget": "\(settings.memoryBudget)"])
                return
            }
            Counter(label: "segmentd_engine_loads_total", dimensions: [("outcome", "loaded")]).increment()
            // Batches appended to the state it replaces are in the load, or read by the next catch-up.
            appended[tenant] = nil
            pending[tenant] = nil
            entries[tenant] = Entry(audience: loaded.audience, lastUsed: .now, covers: began, coversDate: beganDate)
            evict(keeping: tenant)
            resumeWaiters(tenant)
            notifyObservers(tenant)
        }
        publish()
    }

    /// Drops the tenants used longest ago until the states fit the budget.
    private func evict(keeping tenant: TenantID) {
        var held = bytesHeld
        for (other, entry) in entries.sorted(by: { $0.value.lastUsed < $1.value.lastUsed }) where held > settings.memoryBudget && other != tenant {
            entries[other] = nil
            appended[other] = nil
            pending[other] = nil
            held -= entry.audience.bytesHeld
            logger.notice("dropped an idle tenant's audience to stay within the memory budget", metadata: ["tenant": "\(other)"])
        }
    }

    private func publish() {
        tenantsGauge.record(entries.count)
        bytesGauge.record(bytesHeld)
    }
}
