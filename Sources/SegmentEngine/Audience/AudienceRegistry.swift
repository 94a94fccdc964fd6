import Foundation
import Logging
import Metrics
import SegmentDomain
import SegmentStore

/// The tenants whose audience is loaded in memory, under a memory budget.
///
/// A tenant loads on first use, in the background: the refresh that asked goes
/// on with SQL, and later ones use the engine once the state is in. A state is
/// used only while nothing changed since its snapshot (the refresh checks,
/// ``StoreTransaction/audienceChanged(since:)``); a stale one is dropped and
/// loaded again, at most once per `reloadInterval` a tenant, so a tenant that
/// never stops ingesting costs one load per interval rather than one per batch.
/// Past the budget the tenants used longest ago are dropped first.
public actor AudienceRegistry {
    /// Limits of the registry.
    public struct Settings: Sendable {
        /// Bytes all loaded states may hold together (``TenantAudience/bytesHeld``).
        public var memoryBudget: Int
        /// The least time between two loads of one tenant.
        public var reloadInterval: Duration

        public init(memoryBudget: Int, reloadInterval: Duration = .seconds(300)) {
            self.memoryBudget = memoryBudget
            self.reloadInterval = reloadInterval
        }
    }

    private struct Entry {
        var audience: TenantAudience
        var lastUsed: ContinuousClock.Instant
    }

    private let loader: AudienceLoader
    private let settings: Settings
    private let logger: Logger
    private var entries: [TenantID: Entry] = [:]
    private var loads: [TenantID: Task<Void, Never>] = [:]
    private var lastLoadStarted: [TenantID: ContinuousClock.Instant] = [:]

    private let tenantsGauge = Gauge(label: "segmentd_engine_tenants_loaded")
    private let bytesGauge = Gauge(label: "segmentd_engine_bytes_held")
    private let loadTimer = Metrics.Timer(label: "segmentd_engine_load_seconds")

    public init(loader: AudienceLoader, settings: Settings, logger: Logger) {
        self.loader = loader
        self.settings = settings
        self.logger = logger
    }

    /// The tenant's loaded state (marked used), or nil; when nil, a load starts
    /// in the background unless one is running or started within `reloadInterval`.
    public func audience(for tenant: TenantID) -> TenantAudience? {
        if let entry = entries[tenant] {
            entries[tenant]?.lastUsed = .now
            return entry.audience
        }
        startLoad(tenant)
        return nil
    }

    /// The tenant's state no longer matches the database: it is dropped, and loaded again.
    public func stale(_ tenant: TenantID) {
        if entries.removeValue(forKey: tenant) != nil { publish() }
        startLoad(tenant)
    }

    /// Loads the tenant now (waiting for a load already running), whatever the interval.
    public func load(_ tenant: TenantID) async {
        if loads[tenant] == nil { startLoad(tenant, force: true) }
        await loads[tenant]?.value
    }

    /// Waits for the tenant's background load, if one is running.
    public func waitForLoad(_ tenant: TenantID) async {
        await loads[tenant]?.value
    }

    /// Tenants loaded now.
    public var loadedTenants: Set<TenantID> { Set(entries.keys) }

    /// Bytes the loaded states hold.
    public var bytesHeld: Int { entries.values.reduce(0) { $0 + $1.audience.bytesHeld } }

    private func startLoad(_ tenant: TenantID, force: Bool = false) {
        guard loads[tenant] == nil, settings.memoryBudget > 0 else { return }
        let now = ContinuousClock.now
        if !force, let last = lastLoadStarted[tenant], now - last < settings.reloadInterval { return }
        lastLoadStarted[tenant] = now
        let loader = loader
        loads[tenant] = Task {
            let outcome: Result<AudienceLoader.Loaded, any Error>
            do { outcome = .success(try await loader.load(tenant)) } catch { outcome = .failure(error) }
            await self.finish(tenant, outcome)
        }
    }

    private func finish(_ tenant: TenantID, _ outcome: Result<AudienceLoader.Loaded, any Error>) {
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
            entries[tenant] = Entry(audience: loaded.audience, lastUsed: .now)
            evict(keeping: tenant)
        }
        publish()
    }

    /// Drops the tenants used longest ago until the states fit the budget.
    private func evict(keeping tenant: TenantID) {
        var held = bytesHeld
        for (other, entry) in entries.sorted(by: { $0.value.lastUsed < $1.value.lastUsed }) where held > settings.memoryBudget && other != tenant {
            entries[other] = nil
            held -= entry.audience.bytesHeld
            logger.notice("dropped an idle tenant's audience to stay within the memory budget", metadata: ["tenant": "\(other)"])
        }
    }

    private func publish() {
        tenantsGauge.record(entries.count)
        bytesGauge.record(bytesHeld)
    }
}
