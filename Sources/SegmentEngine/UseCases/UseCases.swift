import Foundation
import Logging
import SegmentDomain
import SegmentStore

/// Every use case of Segmentd, built over one database: what the gRPC layer (and
/// anything else that drives Segmentd) calls. The gRPC services translate
/// messages to these calls and back and hold no business rule of their own.
public struct UseCases: Sendable {
    /// How the use cases behave, with documented defaults.
    public struct Configuration: Sendable {
        /// Wall-clock time: ingest defaults and validation, rule evaluation (injected by tests).
        public var clock: @Sendable () -> Date = { Date() }
        /// Longest a rule evaluation (preview, refresh query) may run.
        public var evaluationTimeout: Duration = .seconds(30)
        /// Where export files are written (`<home>/exports` in segmentd).
        public var exportDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("segmentd-exports").path
        /// How often a wait for an operation looks at its job when no notification woke it
        /// (a fallback: waits wake on the job's NOTIFY).
        public var operationPollInterval: Duration = .seconds(5)
        /// Events (and campaign responses) an explanation loads for one user at most, newest
        /// first; past it the explanation says it is partial.
        public var explainEventLimit = 10_000
        /// The authentication cache (the revocation delay).
        public var authentication = Authenticator.Configuration()
        /// Which addresses scheduled pulls may connect to (public ones only, by default).
        public var pullPolicy = PullAddressPolicy()
        /// How a pull's host is resolved (tests answer made-up names).
        public var hostResolver: any HostResolver = SystemHostResolver()
        /// What one tenant may hold and queue.
        public var quotas = TenantQuotas()
        /// Running jobs of each slow kind (export, pull, training) one tenant may have at once.
        public var tenantJobConcurrency = 1
        /// How long export files are kept.
        public var exportRetention: Duration = .seconds(24 * 3600)
        /// How long the membership change log keeps a change (watch streams resume within it).
        public var changeRetention: Duration = .seconds(7 * 86_400)
        /// Bytes the audience engine may hold for loaded tenants; 0 leaves every refresh to
        /// SQL (segmentd sets it from `engine_memory_mb`).
        public var engineMemoryBudget = 0
        /// The least time between two loads of one tenant's audience (a tenant ingesting
        /// all the time is reloaded this often, and refreshed in SQL in between).
        public var engineReloadInterval: Duration = .seconds(300)
        /// Real-time segments: leases and discovery (they need the engine: off without a budget).
        public var realtime = RealtimeSegments.Settings()
        /// What real-time segments wait for window edges on (tests drive it with the clock).
        public var realtimeTimer: (any WallTimer)?

        public init() {}
    }

    public let tenants: TenantAdministration
    public let access: AccessAdministration
    public let authentication: Authenticator
    public let audit: AuditTrail
    public let ingestion: Ingestion
    public let tags: Tagging
    public let users: UserProfiles
    public let catalog: Catalog
    public let rules: RuleEvaluation
    public let segments: SegmentCommands
    public let membership: MembershipQueries
    public let operations: Operations
    public let connectors: ConnectorCommands
    public let predictive: PredictiveModels

    /// The refresh machinery, for job handlers and tests that compare evaluators.
    public let ruleStore: RuleStore
    public let segmentStore: SegmentStore
    public let segmentRefresher: SegmentRefresher
    /// Tenants' audiences in memory (nil when the engine has no memory budget).
    public let audiences: AudienceRegistry?
    /// Real-time segments of the tenants this replica owns (nil without the engine).
    public let realtime: RealtimeSegments?
    public let ingestStore: IngestStore
    public let jobQueue: JobQueue
    /// Wakes operation waits when their jobs change (run by ``operationListener``).
    public let operationWakeups: OperationWakeups
    /// Wakes change watches when their tenant's membership changes commit.
    public let changeWakeups: ChangeWakeups
    /// `WatchSegmentChanges`.
    public let changeWatch: ChangeWatch
    public let database: Database
    let configuration: Configuration

    public init(database: Database, configuration: Configuration = Configuration()) {
        self.database = database
        self.configuration = configuration
        let clock = configuration.clock
        ruleStore = RuleStore(database: database, evaluationTimeout: configuration.evaluationTimeout)
        segmentStore = SegmentStore(database: database, clock: clock, quotas: configuration.quotas)
        let audiences =
            configuration.engineMemoryBudget > 0
            ? AudienceRegistry(
                loader: AudienceLoader(source: AudienceSource(database: database), logger: database.logger),
                settings: AudienceRegistry.Settings(
                    memoryBudget: configuration.engineMemoryBudget, reloadInterval: configuration.engineReloadInterval),
                logger: database.logger, clock: clock)
            : nil
        self.audiences = audiences
        realtime = audiences.map { audiences in
            RealtimeSegments(
                store: RealtimeStore(database: database), audiences: audiences, settings: configuration.realtime, clock: clock,
                timer: configuration.realtimeTimer ?? SystemWallTimer(clock: clock), logger: Logger(label: "segmentd.realtime"))
        }
        segmentRefresher = SegmentRefresher(
            database: database, evaluationTimeout: configuration.evaluationTimeout, audiences: audiences, clock: clock)
        ingestStore = IngestStore(database: database, clock: clock)
        jobQueue = JobQueue(database: database, clock: clock, tenantConcurrency: configuration.tenantJobConcurrency)
        let predictiveStore = PredictiveStore(database: database, clock: clock)
        tenants = TenantAdministration(store: TenantStore(database: database))
        access = AccessAdministration(keys: APIKeyStore(database: database), roles: RoleStore(database: database))
        authentication = Authenticator(store: PrincipalStore(database: database), configuration: configuration.authentication)
        audit = AuditTrail(log: AuditLog(database: database))
        ingestion = Ingestion(store: ingestStore, audiences: audiences, clock: clock)
        tags = Tagging(store: TagStore(database: database))
        users = UserProfiles(store: UserStore(database: database, clock: clock))
        catalog = Catalog(store: CatalogStore(database: database))
        predictive = PredictiveModels(store: predictiveStore, segments: segmentStore)
        rules = RuleEvaluation(
            store: ruleStore, segments: segmentStore, predictive: predictive, explainEventLimit: configuration.explainEventLimit, clock: clock)
        segments = SegmentCommands(
            store: segmentStore, rules: rules, ruleStore: ruleStore,
            membership: MembershipStore(database: database, clock: clock),
            exports: ExportStore(database: database, clock: clock, quotas: configuration.quotas),
            jobs: jobQueue, exportDirectory: configuration.exportDirectory)
        membership = MembershipQueries(store: MembershipStore(database: database, clock: clock))
        operationWakeups = OperationWakeups()
        changeWakeups = ChangeWakeups()
        changeWatch = ChangeWatch(
            changeLog: ChangeLogStore(database: database, retention: configuration.changeRetention), wakeups: changeWakeups)
        operations = Operations(queue: jobQueue, wakeups: operationWakeups, pollInterval: configuration.operationPollInterval)
        connectors = ConnectorCommands(store: ConnectorStore(database: database, clock: clock))
    }

    /// The member sets membership checks answer from (tests count their loads).
    public var memberSets: MemberSetCache { database.memberSets }
    /// Where export files are written.
    public var exportDirectory: String { configuration.exportDirectory }

    /// The job handlers a worker runs.
    public func jobHandlers(lease: Duration = .seconds(30)) -> [any JobHandler] {
        let clock = configuration.clock
        return [
            RefreshHandler(refresh: segmentRefresher),
            ExportHandler(
                store: ExportStore(database: database, clock: clock), queue: jobQueue, directory: configuration.exportDirectory, lease: lease),
            PullHandler(
                connectors: ConnectorStore(database: database, clock: clock), policy: configuration.pullPolicy,
                resolver: configuration.hostResolver),
            TrainHandler(store: PredictiveStore(database: database, clock: clock)),
        ]
    }

    /// Enqueues scheduled refreshes, purges expired segments and sessions.
    public func scheduler(interval: Duration = .seconds(30), logger: Logger) -> SegmentScheduler {
        SegmentScheduler(segments: segmentStore, exports: exportSweeper, changeLog: changeLog, interval: interval, logger: logger)
    }

    /// The membership change log's partitions and retention.
    public var changeLog: ChangeLogStore {
        ChangeLogStore(database: database, retention: configuration.changeRetention)
    }

    /// Deletes export files past the retention, of purged segments, or made before an erasure.
    public var exportSweeper: ExportSweeper {
        ExportSweeper(
            store: ExportStore(database: database, clock: configuration.clock), directory: configuration.exportDirectory,
            retention: configuration.exportRetention, clock: configuration.clock)
    }
}
