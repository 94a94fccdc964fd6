import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import SegmentEngine
import SegmentStore
import ServiceLifecycle
import Synchronization
import SegmentDomain

/// The gRPC server: TLS only, every contract method registered, interceptors for
/// metrics, error mapping and authentication. Runs as a `Service`; on graceful
/// shutdown it reports NOT_SERVING, stops accepting, and drains in-flight calls.
public final class SegmentdServer: Service, Sendable {
    /// How the server listens and serves.
    public struct Configuration: Sendable {
        /// IP address to bind (`127.0.0.1`, `0.0.0.0`, `::`).
        public var host: String = "127.0.0.1"
        /// Port to bind; 0 picks a free one.
        public var port: Int = 7443
        /// PEM file with the server certificate chain, leaf first.
        public var certificateChainPath: String
        /// PEM file with the server's private key.
        public var privateKeyPath: String
        /// Reported by GetCallerIdentity and `segctl version`.
        public var serverVersion: String = SegmentdVersion.current
        /// The authentication cache (the revocation delay).
        public var authentication = Authenticator.Configuration()
        /// Wall-clock time: ingest defaults and validation, rule evaluation (injected by tests).
        public var clock: @Sendable () -> Date = { Date() }
        /// Longest a rule evaluation (preview, refresh query) may run.
        public var evaluationTimeout: Duration = .seconds(30)
        /// Where export files are written (`<home>/exports` in segmentd).
        public var exportDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("segmentd-exports").path
        /// How often WaitOperation looks at a running job.
        public var operationWaitInterval: Duration = .milliseconds(200)

        public init(certificateChainPath: String, privateKeyPath: String) {
            self.certificateChainPath = certificateChainPath
            self.privateKeyPath = privateKeyPath
        }
    }

    let configuration: Configuration
    let database: Database
    /// The serving state reported by `grpc.health.v1.Health`.
    public let health: HealthMonitor
    /// Writes user data; its partitions are prepared at startup.
    public let ingestStore: IngestStore
    /// Evaluates rules (exposed for tests that compare it with the single-user evaluator).
    public let ruleStore: RuleStore
    /// Segment definitions, revisions, state and curation.
    public let segmentStore: SegmentStore
    /// Jobs behind operations (refreshes).
    public let jobQueue: JobQueue
    /// Runs refresh jobs (for the workers).
    public let segmentRefresh: SegmentRefresh

    /// Where export files are written.
    public var exportDirectory: String { configuration.exportDirectory }

    /// The job handlers a worker of this server runs.
    public func jobHandlers(lease: Duration = .seconds(30)) -> [any JobHandler] {
        [
            RefreshHandler(refresh: segmentRefresh),
            ExportHandler(store: ExportStore(database: database, clock: configuration.clock), queue: jobQueue,
                          directory: configuration.exportDirectory, lease: lease),
            PullHandler(connectors: ConnectorStore(database: database, clock: configuration.clock)),
            TrainHandler(store: PredictiveStore(database: database, clock: configuration.clock)),
        ]
    }
    /// The member sets membership checks answer from (exposed so tests can count loads and hits).
    public var memberSets: MemberSetCache { database.memberSets }
    /// Resolves API keys (exposed so tests can count lookups).
    public let authenticator: Authenticator
    let logger: Logger
    private let transport: HTTP2ServerTransport.Posix

    public init(configuration: Configuration, database: Database, health: HealthMonitor, logger: Logger) {
        self.configuration = configuration
        self.database = database
        self.health = health
        self.logger = logger
        self.ingestStore = IngestStore(database: database, clock: configuration.clock)
        self.ruleStore = RuleStore(database: database, evaluationTimeout: configuration.evaluationTimeout)
        self.segmentStore = SegmentStore(database: database, clock: configuration.clock)
        self.jobQueue = JobQueue(database: database, clock: configuration.clock)
        self.segmentRefresh = SegmentRefresh(database: database, rules: ruleStore, clock: configuration.clock)
        self.authenticator = Authenticator(
            store: PrincipalStore(database: database), configuration: configuration.authentication)
        let address: GRPCNIOTransportHTTP2.SocketAddress =
            configuration.host.contains(":")
            ? .ipv6(host: configuration.host, port: configuration.port)
            : .ipv4(host: configuration.host, port: configuration.port)
        self.transport = HTTP2ServerTransport.Posix(
            address: address,
            transportSecurity: .tls(
                .defaults(
                    certificateChain: [.file(path: configuration.certificateChainPath, format: .pem)],
                    privateKey: .file(path: configuration.privateKeyPath, format: .pem)
                ) { $0.requireALPN = false }
            )
        )
    }

    /// Every method the server registers, for tests that walk them.
    public var registeredMethods: [MethodDescriptor] {
        var router = RPCRouter<HTTP2ServerTransport.Posix>()
        for service in services { service.registerMethods(with: &router) }
        return router.methods
    }

    /// The services in registration order: every contract method as UNIMPLEMENTED
    /// first, then the real implementations over them.
    var services: [any RegistrableRPCService] {
        [
            UnimplementedMethods(methods: Contract.allMethods),
            HealthService(
                monitor: health,
                knownServices: Set(Contract.services.map(\.service.fullyQualifiedService))),
            TenantService(store: TenantStore(database: database)),
            AccessService(
                keys: APIKeyStore(database: database), roles: RoleStore(database: database),
                serverVersion: configuration.serverVersion),
            AuditService(log: AuditLog(database: database)),
            IngestionService(store: ingestStore),
            TagService(store: TagStore(database: database)),
            UserService(store: UserStore(database: database)),
            CatalogService(store: CatalogStore(database: database)),
            RuleService(
                store: ruleStore, segments: segmentStore, predictive: PredictiveStore(database: database, clock: configuration.clock),
                clock: configuration.clock),
            SegmentService(
                store: segmentStore, rules: ruleStore, refresh: segmentRefresh,
                membership: MembershipStore(database: database, clock: configuration.clock),
                exports: ExportStore(database: database, clock: configuration.clock), jobs: jobQueue, exportDirectory: configuration.exportDirectory,
                clock: configuration.clock),
            MembershipService(store: MembershipStore(database: database, clock: configuration.clock)),
            OperationService(queue: jobQueue, waitInterval: configuration.operationWaitInterval),
            ConnectorService(store: ConnectorStore(database: database, clock: configuration.clock), segments: segmentStore),
            PredictiveService(store: PredictiveStore(database: database, clock: configuration.clock), segments: segmentStore),
        ]
    }

    /// The interceptors, outermost first.
    var interceptors: [any ServerInterceptor] {
        [
            RPCMetricsInterceptor(),
            ErrorMappingInterceptor(logger: logger),
            AccessInterceptor(
                authenticator: authenticator, health: health, auditLog: AuditLog(database: database), logger: logger),
        ]
    }

    /// The bound port, once listening.
    public var listeningPort: Int {
        get async throws {
            let address = try await transport.listeningAddress
            if let ipv4 = address.ipv4 { return ipv4.port }
            if let ipv6 = address.ipv6 { return ipv6.port }
            throw DomainError(.internalError, "the server is not bound to an IP address")
        }
    }

    public func run() async throws {
        let server = GRPCServer(transport: transport, services: services, interceptors: interceptors)
        let health = self.health
        let logger = self.logger
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await server.serve()
                return true
            }
            group.addTask {
                // Membership checks answer from memory while this listens (until serving ends).
                await self.database.memberSets.run(database: self.database)
                return false
            }
            group.addTask {
                // Wait until the server is listening (or has failed), then for shutdown. A shutdown
                // requested before serve() started is handled here too: gracefulShutdown() returns
                // at once when it was already triggered.
                if let port = try? await self.listeningPort {
                    logger.notice("serving gRPC over TLS", metadata: ["address": "\(self.configuration.host):\(port)"])
                }
                try await gracefulShutdown()
                logger.notice("draining: no new calls; in-flight calls finish")
                health.set(.notServing)
                health.finishWatchers()
                server.beginGracefulShutdown()
                return false
            }
            // serve() returns once drained (or throws); only then is the watcher no longer needed.
            for try await servingEnded in group where servingEnded {
                group.cancelAll()
            }
        }
    }
}

/// The segmentd release.
public enum SegmentdVersion {
    /// Semantic version of this build.
    public static let current = "0.1.0"
}
