import Foundation
import Logging
import Prometheus
import SegmentDomain
import SegmentEngine
import SegmentServer
import SegmentStore
import ServiceLifecycle

/// The composition root: builds every part from the configuration and runs the
/// long-lived ones as services of one `ServiceGroup` — the database client, the
/// metrics endpoint, startup, the member-set and operation listeners, the job worker, the
/// scheduler, the job-queue metrics sampler, the audit checkpointer and the gRPC server — so start-up order and graceful shutdown live
/// in one place. The embedded PostgreSQL, when used, stops after all of them.
public struct SegmentdApplication {
    let configuration: SegmentdConfiguration
    let registry: PrometheusCollectorRegistry
    let logger: Logger

    public init(configuration: SegmentdConfiguration, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
    }

    /// Runs the server until SIGINT or SIGTERM.
    public func run() async throws {
        try prepareHome()
        let endpoints = try await DatabaseEndpoints.open(configuration, logger: logger)
        do {
            try await serve(endpoints)
        } catch {
            try? endpoints.embedded?.stop()
            throw error
        }
        try endpoints.embedded?.stop()
        logger.notice("stopped")
    }

    /// Applies pending migrations (starting the embedded database if it is used); the versions applied.
    public static func migrate(_ configuration: SegmentdConfiguration, logger: Logger) async throws -> [Int] {
        let database = try await DatabaseEndpoints.open(configuration, logger: logger)
        defer { database.embedded.map { try? $0.stop() } }
        return try await Migrator(owner: database.owner, appRole: database.app.username, logger: logger).migrate()
    }

    private func serve(_ endpoints: DatabaseEndpoints) async throws {
        try await Migrator(owner: endpoints.owner, appRole: endpoints.app.username, logger: logger).migrate()

        let tls = try tlsFiles()
        var serverConfiguration = SegmentdServer.Configuration(certificateChainPath: tls.chain, privateKeyPath: tls.key)
        serverConfiguration.host = configuration.listen.host
        serverConfiguration.port = configuration.listen.port

        var memberSets = MemberSetCache.Configuration()
        memberSets.maxMembers = configuration.membershipCacheMembers
        let database = Database(settings: endpoints.app, logger: Logger(label: "segmentd.db"), memberSets: memberSets)
        var useCaseConfiguration = UseCases.Configuration()
        useCaseConfiguration.authentication.cacheTTL = configuration.authCacheTTL
        useCaseConfiguration.evaluationTimeout = configuration.evaluationTimeout
        useCaseConfiguration.pullPolicy = configuration.pullPolicy
        useCaseConfiguration.quotas = configuration.quotas
        useCaseConfiguration.tenantJobConcurrency = configuration.tenantJobConcurrency
        useCaseConfiguration.exportRetention = configuration.exportRetention
        useCaseConfiguration.changeRetention = configuration.changeRetention
        useCaseConfiguration.engineMemoryBudget = configuration.engineMemoryBudget
        useCaseConfiguration.realtime.leaseDuration = configuration.realtimeLease
        useCaseConfiguration.authentication.keyRate = configuration.keyRate
        useCaseConfiguration.authentication.peerBadKeyRate = configuration.peerBadKeyRate
        useCaseConfiguration.exportDirectory = configuration.home + "/exports"
        let useCases = UseCases(database: database, configuration: useCaseConfiguration)
        let server = SegmentdServer(
            configuration: serverConfiguration, useCases: useCases, health: HealthMonitor(), logger: Logger(label: "segmentd.grpc"))
        let startup = StartupService(
            database: database, useCases: useCases, server: server, configuration: configuration, caPath: tls.ca, logger: logger)

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: database)]
        if let metrics = configuration.metricsListen {
            services.append(.init(service: MetricsHTTPServer(host: metrics.host, port: metrics.port, registry: registry, logger: logger)))
        }
        services.append(.init(service: startup, successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup))
        // Membership checks answer from memory while this listens for other processes' changes.
        services.append(.init(service: useCases.memberSetListener))
        // Operation waits wake on their job's notification while this listens.
        services.append(.init(service: useCases.operationListener))
        // Change watches wake when their tenant's membership changes commit.
        services.append(.init(service: useCases.changeListener))
        // Loaded audiences catch up when any process changes their tenant's data.
        services.append(.init(service: useCases.audienceListener))
        // Real-time segments of the tenants this replica holds the lease of (after the audiences: it stops first).
        services.append(.init(service: useCases.realtimeService))
        // Workers run refreshes, exports, pulls and trainings; the scheduler enqueues what comes due.
        var workerConfiguration = JobWorker.Configuration()
        workerConfiguration.lease = configuration.jobLease
        workerConfiguration.rescueInterval = configuration.jobLease / 2
        services.append(
            .init(
                service: JobWorker(
                    queue: useCases.jobQueue, handlers: useCases.jobHandlers(lease: configuration.jobLease), configuration: workerConfiguration,
                    logger: Logger(label: "segmentd.jobs"))))
        services.append(.init(service: useCases.scheduler(logger: Logger(label: "segmentd.scheduler"))))
        // Queue depth and the oldest wait by kind, sampled for /metrics.
        if configuration.metricsListen != nil {
            services.append(.init(service: JobMetricsSampler(queue: useCases.jobQueue, logger: Logger(label: "segmentd.jobs.metrics"))))
        }
        // Signed checkpoints of every audit chain, with a key the database does not hold.
        if configuration.auditCheckpointEvery > 0 {
            var checkpoints = AuditCheckpointer.Configuration(filePath: configuration.auditCheckpointFile)
            checkpoints.every = Int64(configuration.auditCheckpointEvery)
            let key = try AuditSigningKey.loadOrCreate(at: configuration.auditCheckpointKey)
            services.append(
                .init(
                    service: AuditCheckpointer(
                        trail: useCases.audit, key: key, configuration: checkpoints, logger: Logger(label: "segmentd.audit"))))
        }
        // Last, so it is shut down first: the server drains before anything it needs stops.
        services.append(.init(service: server, failureTerminationBehavior: .gracefullyShutdownGroup))

        var groupConfiguration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownGrace
        try await ServiceGroup(configuration: groupConfiguration).run()
    }

    /// Creates the data directory, private to the operator (searchable but not
    /// listable by the postgres user when the embedded cluster runs as it).
    private func prepareHome() throws {
        try FileManager.default.createDirectory(atPath: configuration.home, withIntermediateDirectories: true)
        let mode = geteuid() == 0 && configuration.usesEmbeddedDatabase ? 0o711 : 0o700
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: configuration.home)
    }

    private func tlsFiles() throws -> (chain: String, key: String, ca: String?) {
        if let chain = configuration.tlsCertificatePath, let key = configuration.tlsKeyPath {
            return (chain, key, nil)
        }
        let hosts = configuration.tlsHosts
        let ips = hosts.filter { DevelopmentCertificates.ipBytes($0) != nil }
        var dns = hosts.filter { DevelopmentCertificates.ipBytes($0) == nil }
        var extraIPs = ips
        if !["127.0.0.1", "0.0.0.0", "::", "::1"].contains(configuration.listen.host) {
            extraIPs.append(configuration.listen.host)
        }
        if let hostName = ProcessInfo.processInfo.hostName.split(separator: ".").first, !hostName.isEmpty {
            dns.append(String(hostName))
        }
        let certificates = try DevelopmentCertificates.ensure(in: configuration.home + "/tls", hostNames: dns, ipAddresses: extraIPs)
        logger.notice("using a development TLS certificate; clients trust the CA at \(certificates.caCertificatePath)")
        return (certificates.certificateChainPath, certificates.privateKeyPath, certificates.caCertificatePath)
    }
}
