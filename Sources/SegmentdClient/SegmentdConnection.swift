import GRPCCore
import GRPCNIOTransportHTTP2
import SegmentdAPI

/// A TLS connection to segmentd with the API key attached to every call.
///
/// ```swift
/// let settings = try ClientSettings.resolve()
/// let identity = try await SegmentdConnection.with(settings) { connection in
///     try await connection.access.getCallerIdentity(.init(), metadata: connection.metadata)
/// }
/// ```
public struct SegmentdConnection: Sendable {
    /// The underlying client.
    public let client: GRPCClient<HTTP2ClientTransport.Posix>
    /// Metadata carrying the API key (empty without one).
    public let metadata: Metadata

    /// Wraps a running client; `metadata` goes on every call.
    public init(client: GRPCClient<HTTP2ClientTransport.Posix>, metadata: Metadata) {
        self.client = client
        self.metadata = metadata
    }

    /// Health checks.
    public var health: Grpc_Health_V1_Health.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// Identity, keys and roles.
    public var access: Segmentd_V1_AccessService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// Tenants (platform operators).
    public var tenants: Segmentd_V1_TenantService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// Ingestion.
    public var ingestion: Segmentd_V1_IngestionService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// Tags.
    public var tags: Segmentd_V1_TagService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// Users.
    public var users: Segmentd_V1_UserService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// The catalog.
    public var catalog: Segmentd_V1_CatalogService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// Segments: lifecycle, revisions, pause, curation.
    public var segments: Segmentd_V1_SegmentService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// Membership: check, a user's segments, stream a segment's members.
    public var membership: Segmentd_V1_MembershipService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// Operations (jobs): get, list, cancel, wait.
    public var operations: Segmentd_V1_OperationService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// Rules: check, preview, explain.
    public var rules: Segmentd_V1_RuleService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// Connector segments: pushed batches, replace sessions, imports, pulls.
    public var connectors: Segmentd_V1_ConnectorService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// Predictive segments: training and model cards.
    public var predictive: Segmentd_V1_PredictiveService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }
    /// The audit log.
    public var audit: Segmentd_V1_AuditService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }

    /// The caller's tenant, `tenants/{tenant}`, as the server sees the key.
    public func callerTenant() async throws -> String {
        try await access.getCallerIdentity(.init(), metadata: metadata).tenant
    }

    /// Connects, runs `body`, and closes the connection. `config` tunes the HTTP/2
    /// transport (tests shrink the flow-control window to play a client that stops reading).
    public static func with<Result: Sendable>(
        _ settings: ClientSettings,
        config: HTTP2ClientTransport.Posix.Config = .defaults,
        _ body: (SegmentdConnection) async throws -> Result
    ) async throws -> Result {
        let (host, port) = try settings.hostAndPort()
        // IP literals cannot be used for SNI (STACK-NOTES gotcha 4); the IP SAN is still verified.
        let target: any ResolvableTarget
        if host.contains(":") {
            target = .ipv6(host: host, port: port)
        } else if host.allSatisfy({ $0.isNumber || $0 == "." }) {
            target = .ipv4(host: host, port: port)
        } else {
            target = .dns(host: host, port: port)
        }
        let trustRoots: TLSConfig.TrustRootsSource =
            settings.caPath.map { .certificates([.file(path: $0, format: .pem)]) } ?? .systemDefault
        let transport = try HTTP2ClientTransport.Posix(
            target: target,
            transportSecurity: .tls(.defaults { $0.trustRoots = trustRoots }),
            config: config
        )
        var metadata = Metadata()
        if let key = settings.apiKey { metadata.addString("Bearer \(key)", forKey: "authorization") }
        metadata.addString("segctl/\(ClientVersion.current)", forKey: "user-agent")
        let address = settings.address
        do {
            return try await withGRPCClient(transport: transport) { client in
                try await body(SegmentdConnection(client: client, metadata: metadata))
            }
        } catch {
            throw ClientError.explaining(error, address: address)
        }
    }
}

/// The client library's version.
public enum ClientVersion {
    public static let current = "0.1.0"
}
