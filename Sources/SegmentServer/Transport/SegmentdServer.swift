import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import SegmentDomain
import SegmentEngine
import ServiceLifecycle
import Synchronization

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
        /// Concurrent HTTP/2 streams one connection may open: a client cannot hold more calls open than this.
        public var maxConcurrentStreams: Int = 100
        /// Reported by GetCallerIdentity and `segctl version`.
        public var serverVersion: String = SegmentdVersion.current
        public init(certificateChainPath: String, privateKeyPath: String) {
            self.certificateChainPath = certificateChainPath
            self.privateKeyPath = privateKeyPath
        }
    }

    let configuration: Configuration
    /// What the services call.
    public let useCases: UseCases
    /// The serving state reported by `grpc.health.v1.Health`.
    public let health: HealthMonitor
    let logger: Logger
    private let transport: HTTP2ServerTransport.Posix

    public init(configuration: Configuration, useCases: UseCases, health: HealthMonitor, logger: Logger) {
        self.configuration = configuration
        self.useCases = useCases
        self.health = health
        self.logger = logger
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
            ),
            config: .defaults { $0.http2.maxConcurrentStreams = configuration.maxConcurrentStreams }
        )
    }

    /// Every method the server registers, for tests that walk them.
    public var registeredMethods: [MethodDescriptor] {
        var router = RPCRouter<HTTP2ServerTransport.Posix>()
        for service in services { service.registerMethods(with: &router) }
        return router.methods
    }

    /// The services: every method of the contract (a test checks none is missing).
    var services: [any RegistrableRPCService] {
        [
            HealthService(
                monitor: health,
                knownServices: Set(Contract.services.map(\.service.fullyQualifiedService))),
            TenantService(tenants: useCases.tenants),
            AccessService(access: useCases.access, serverVersion: configuration.serverVersion),
            AuditService(audit: useCases.audit),
            IngestionService(ingestion: useCases.ingestion),
            TagService(tags: useCases.tags),
            UserService(users: useCases.users),
            CatalogService(catalog: useCases.catalog),
            RuleService(rules: useCases.rules),
            SegmentService(segments: useCases.segments),
            MembershipService(membership: useCases.membership, changes: useCases.changeWatch),
            OperationService(operations: useCases.operations),
            ConnectorService(connectors: useCases.connectors, segments: useCases.segments),
            PredictiveService(predictive: useCases.predictive),
        ]
    }

    /// The interceptors, outermost first.
    var interceptors: [any ServerInterceptor] {
        [
            RPCMetricsInterceptor(),
            ErrorMappingInterceptor(logger: logger),
            AccessInterceptor(authenticator: useCases.authentication, health: health, auditTrail: useCases.audit, logger: logger),
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
