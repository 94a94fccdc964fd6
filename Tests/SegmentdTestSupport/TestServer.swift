import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import SegmentEngine
import SegmentServer
import SegmentStore
import SegmentdClient
import ServiceLifecycle
import SegmentDomain

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

    /// Runs `body` against a new server, then shuts it down gracefully.
    public static func with<Result: Sendable>(
        poolSize: Int = 10,
        backgroundWorker: Bool = false,
        memberSets: MemberSetCache.Configuration = .init(),
        configure: (inout SegmentdServer.Configuration) -> Void = { _ in },
        _ body: @Sendable (TestServer) async throws -> Result
    ) async throws -> Result {
        var logger = Logger(label: "test.server")
        logger.logLevel = .warning
        let testDatabase = try await TestDatabase.create()
        try await Migrator(owner: testDatabase.owner, appRole: TestDatabase.appRole, logger: logger).migrate()
        let directory = try TestEnvironment.temporaryDirectory("sgdtls")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try DevelopmentCertificates.ensure(in: directory)

        var configuration = SegmentdServer.Configuration(
            certificateChainPath: certificates.certificateChainPath, privateKeyPath: certificates.privateKeyPath)
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.exportDirectory = directory + "/exports"
        configure(&configuration)
        var settings = testDatabase.app
        settings.maximumConnections = poolSize
        let database = Database(settings: settings, logger: logger, memberSets: memberSets)
        let server = SegmentdServer(configuration: configuration, database: database, health: HealthMonitor(), logger: logger)
        let worker = JobWorker(
            queue: server.jobQueue, handlers: server.jobHandlers(), logger: logger)
        let group = ServiceGroup(services: backgroundWorker ? [database, worker, server] : [database, server], logger: logger)

        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                let port = try await server.listeningPort
                try await ServerRoleCheck.verify(database)
                try await server.ingestStore.preparePartitions()
                guard let credentials = try await Bootstrapper(database: database, logger: logger)
                    .bootstrapIfNeeded(tenantID: TenantID("acme")!, displayName: "Acme")
                else { throw TestSetupError("a fresh database was already bootstrapped") }
                server.health.set(.serving)
                let testServer = TestServer(
                    database: testDatabase, server: server, port: port, caPath: certificates.caCertificatePath,
                    ownerKey: credentials.ownerKey.plaintext, platformKey: credentials.platformKey.plaintext,
                    tenant: credentials.tenantID, worker: worker)
                let result = try await body(testServer)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                tasks.cancelAll()
                throw error
            }
        }
    }
}
