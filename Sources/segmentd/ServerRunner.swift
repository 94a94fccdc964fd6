import Foundation
import Logging
import Prometheus
import SegmentEngine
import SegmentServer
import SegmentStore
import ServiceLifecycle
import SegmentDomain

/// Wires the parts together and runs them: database, migrations, TLS, the gRPC
/// server, metrics; then stops the embedded database after everything else.
struct ServerRunner {
    let configuration: SegmentdConfiguration
    let registry: PrometheusCollectorRegistry
    let logger: Logger

    func run() async throws {
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

    private func serve(_ endpoints: DatabaseEndpoints) async throws {
        try await Migrator(owner: endpoints.owner, appRole: endpoints.app.username, logger: logger).migrate()

        let tls = try tlsFiles()
        var serverConfiguration = SegmentdServer.Configuration(
            certificateChainPath: tls.chain, privateKeyPath: tls.key)
        serverConfiguration.host = configuration.listen.host
        serverConfiguration.port = configuration.listen.port
        serverConfiguration.authentication.cacheTTL = configuration.authCacheTTL
        serverConfiguration.evaluationTimeout = configuration.evaluationTimeout
        serverConfiguration.exportDirectory = configuration.home + "/exports"

        var memberSets = MemberSetCache.Configuration()
        memberSets.maxMembers = configuration.membershipCacheMembers
        let database = Database(settings: endpoints.app, logger: Logger(label: "segmentd.db"), memberSets: memberSets)
        let server = SegmentdServer(
            configuration: serverConfiguration, database: database, health: HealthMonitor(),
            logger: Logger(label: "segmentd.grpc"))
        let startup = StartupService(
            database: database, server: server, configuration: configuration, caPath: tls.ca, logger: logger)

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: database),
        ]
        if let metrics = configuration.metricsListen {
            services.append(.init(service: MetricsHTTPServer(
                host: metrics.host, port: metrics.port, registry: registry, logger: logger)))
        }
        services.append(.init(service: startup, successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup))
        // Workers refresh segments; the scheduler enqueues scheduled refreshes.
        var workerConfiguration = JobWorker.Configuration()
        workerConfiguration.lease = configuration.jobLease
        workerConfiguration.rescueInterval = configuration.jobLease / 2
        services.append(.init(service: JobWorker(
            queue: server.jobQueue, handlers: server.jobHandlers(lease: configuration.jobLease), configuration: workerConfiguration,
            logger: Logger(label: "segmentd.jobs"))))
        services.append(.init(service: SegmentScheduler(segments: server.segmentStore, logger: Logger(label: "segmentd.scheduler"))))
        // Last, so it is shut down first: the server drains before anything it needs stops.
        services.append(.init(service: server, failureTerminationBehavior: .gracefullyShutdownGroup))

        var groupConfiguration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
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
        let certificates = try DevelopmentCertificates.ensure(
            in: configuration.home + "/tls", hostNames: dns, ipAddresses: extraIPs)
        logger.notice("using a development TLS certificate; clients trust the CA at \(certificates.caCertificatePath)")
        return (certificates.certificateChainPath, certificates.privateKeyPath, certificates.caCertificatePath)
    }
}
