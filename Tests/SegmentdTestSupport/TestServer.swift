import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import SegmentDomain
import SegmentEngine
import SegmentServer
import SegmentStore
import SegmentdApp
import SegmentdClient
import ServiceLifecycle

/// An in-process segmentd on an ephemeral port with real TLS and a fresh
/// database: migrated, bootstrapped and SERVING.
public struct TestServer: Sendable {
    public let database: TestDatabase
    public let server: SegmentdServer
    public let port: Int
    public let caPath: String
    public let ownerKey: String
    public let platformKey: String
    public let tenant: TenantID
    /// A job worker tests drive with `drain()` (not running in the background unless `backgroundWorker`).
    public let worker: JobWorker

    /// Runs `body` with a connection using the owner key (or `apiKey`).
    public func connect<Result: Sendable>(
        apiKey: String? = nil, _ body: (SegmentdConnection) async throws -> Result
    ) async throws -> Result {
        try await SegmentdConnection.with(settings(apiKey: apiKey), body)
    }

    /// Creates a key of the bootstrap tenant holding `roles`; returns its secret.
    public func createKey(roles: [String], name: String = "test") async throws -> String {
        try await connect { connection in
            try await connection.access.createApiKey(
                .with {
                    $0.parent = "tenants/\(tenant)"
                    $0.apiKey.displayName = name
                    $0.apiKey.roles = roles
                }, metadata: connection.metadata
            ).secret
        }
    }

    /// Client settings for the owner key (or `apiKey`).
    public func settings(apiKey: String? = nil) -> ClientSettings {
        ClientSettings(address: "127.0.0.1:\(port)", caPath: caPath, apiKey: apiKey ?? ownerKey)
    }

    /// Runs `body` against a new server, then shuts it down gracefully. With
    /// `replicaOf`, the new server shares that server's database (and keys): a
    /// second replica.
    public static func with<Result: Sendable>(
        replicaOf primary: TestServer? = nil,
        poolSize: Int = 10,
        backgroundWorker: Bool = false,
        memberSets: MemberSetCache.Configuration = .init(),
        configure: (inout UseCases.Configuration) -> Void = { _ in },
        _ body: @Sendable (TestServer) async throws -> Result
    ) async throws -> Result {
        var logger = Logger(label: "test.server")
        logger.logLevel = .warning
        // Until the body runs: says which step of the setup a slow start is in.
        let setup = SetupAlarm(after: .seconds(120))
        defer { setup.cancel() }
        setup.stage("creating the database")
        let testDatabase: TestDatabase
        if let primary { testDatabase = primary.database } else { testDatabase = try await TestDatabase.create() }
        setup.stage("migrating")
        try await Migrator(owner: testDatabase.owner, appRole: TestDatabase.appRole, logger: logger).migrate()
        setup.stage("making certificates and starting the services")
        let directory = try TestEnvironment.temporaryDirectory("sgdtls")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try DevelopmentCertificates.ensure(in: directory)

        var configuration = SegmentdServer.Configuration(
            certificateChainPath: certificates.certificateChainPath, privateKeyPath: certificates.privateKeyPath)
        configuration.host = "127.0.0.1"
        configuration.port = 0
        var useCaseConfiguration = UseCases.Configuration()
        useCaseConfiguration.exportDirectory = directory + "/exports"
        configure(&useCaseConfiguration)
        var settings = testDatabase.app
        settings.maximumConnections = poolSize
        let database = Database(settings: settings, logger: logger, memberSets: memberSets)
        let useCases = UseCases(database: database, configuration: useCaseConfiguration)
        let server = SegmentdServer(configuration: configuration, useCases: useCases, health: HealthMonitor(), logger: logger)
        let worker = JobWorker(queue: useCases.jobQueue, handlers: useCases.jobHandlers(), logger: logger)
        let listener = useCases.memberSetListener
        let operations = useCases.operationListener
        let audiences = useCases.audienceListener
        let changes = useCases.changeListener
        // Real-time segments run only where the engine is on (they need it).
        let realtime: [any Service] = useCases.realtime == nil ? [] : [useCases.realtimeService]
        let services: [any Service] =
            [database, listener, operations, changes, audiences] + realtime + (backgroundWorker ? [worker, server] : [server])
        let watchdog = ServerWatchdog(database: database, audiences: useCases.audiences, superuser: testDatabase.superuser)
        let group = ServiceGroup(services: services, logger: watchdog.lifecycle.logger(label: "test.server.lifecycle"))

        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                let port = try await server.listeningPort
                setup.stage("checking the role and making partitions")
                try await ServerRoleCheck.verify(database)
                try await useCases.ingestStore.preparePartitions()
                try await useCases.changeLog.preparePartitions()
                setup.stage("bootstrapping")
                let keys: (owner: String, platform: String, tenant: TenantID)
                if let primary {
                    keys = (primary.ownerKey, primary.platformKey, primary.tenant)
                } else {
                    guard
                        let credentials = try await Bootstrapper(database: database, logger: logger)
                            .bootstrapIfNeeded(tenantID: TenantID("acme")!, displayName: "Acme")
                    else { throw TestSetupError("a fresh database was already bootstrapped") }
                    keys = (credentials.ownerKey.plaintext, credentials.platformKey.plaintext, credentials.tenantID)
                }
                server.health.set(.serving)
                setup.cancel()
                let testServer = TestServer(
                    database: testDatabase, server: server, port: port, caPath: certificates.caCertificatePath,
                    ownerKey: keys.owner, platformKey: keys.platform, tenant: keys.tenant, worker: worker)
                let result = try await watchdog.watch("the test", limit: .seconds(180)) { try await body(testServer) }
                await group.triggerGracefulShutdown()
                try await watchdog.watch("the shutdown", limit: .seconds(60)) { try await tasks.waitForAll() }
                return result
            } catch {
                await group.triggerGracefulShutdown()
                tasks.cancelAll()
                throw error
            }
        }
    }
}

extension SegmentdServer {
    /// The parts tests reach past the API for (to drive jobs, count cache loads, compare evaluators).
    public var jobQueue: JobQueue { useCases.jobQueue }
    public var ruleStore: RuleStore { useCases.ruleStore }
    public var segmentStore: SegmentStore { useCases.segmentStore }
    public var segmentRefresher: SegmentRefresher { useCases.segmentRefresher }
    public var audiences: AudienceRegistry? { useCases.audiences }
    public var realtime: RealtimeSegments? { useCases.realtime }
    public var realtimeStore: RealtimeStore { useCases.realtimeStore }
    public var ingestStore: IngestStore { useCases.ingestStore }
    public var changeLog: ChangeLogStore { useCases.changeLog }
    public var authenticator: Authenticator { useCases.authentication }
    public var memberSets: MemberSetCache { useCases.memberSets }
    public var exportDirectory: String { useCases.exportDirectory }
    public func jobHandlers(lease: Duration = .seconds(30)) -> [any JobHandler] { useCases.jobHandlers(lease: lease) }
}
