import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import SegmentDomain
import SegmentServer
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("gRPC over TLS: health, authentication, the contract", .timeLimit(.minutes(5)))
struct ServerTests {
    @Test("Health answers SERVING over TLS without a key, and NOT_FOUND for an unknown service")
    func healthOverTLS() async throws {
        try await TestServer.with { server in
            try await SegmentdConnection.with(server.settings(apiKey: nil)) { connection in
                let whole = try await connection.health.check(.init())
                #expect(whole.status == .serving)
                let service = try await connection.health.check(.with { $0.service = "segmentd.v1.SegmentService" })
                #expect(service.status == .serving)
                await #expect(throws: RPCError.self) {
                    try await connection.health.check(.with { $0.service = "nope.Service" })
                }
                do {
                    _ = try await connection.health.check(.with { $0.service = "nope.Service" })
                } catch let error as RPCError {
                    #expect(error.code == .notFound)
                }
            }
        }
    }

    @Test("Health Watch streams the current status, then each change")
    func healthWatch() async throws {
        try await TestServer.with { server in
            let statuses = try await SegmentdConnection.with(server.settings(apiKey: nil)) { connection in
                try await connection.health.watch(.init()) { response in
                    var seen: [Grpc_Health_V1_HealthCheckResponse.ServingStatus] = []
                    for try await message in response.messages {
                        seen.append(message.status)
                        if seen.count == 1 { server.server.health.set(.notServing) }
                        if seen.count == 2 { break }
                    }
                    return seen
                }
            }
            #expect(statuses == [.serving, .notServing])
        }
    }

    @Test("an authenticated call returns the caller's tenant, key and roles")
    func whoami() async throws {
        try await TestServer.with { server in
            let identity = try await SegmentdConnection.with(server.settings()) { connection in
                try await connection.access.getCallerIdentity(.init(), metadata: connection.metadata)
            }
            #expect(identity.tenant == "tenants/acme")
            #expect(identity.roles == ["owner"])
            #expect(identity.apiKey.hasPrefix("tenants/acme/apiKeys/"))
            #expect(server.ownerKey.hasPrefix(identity.apiKeyPrefix))
            #expect(identity.serverVersion == SegmentdVersion.current)
        }
    }

    @Test("the key is accepted in x-api-key too")
    func xAPIKeyHeader() async throws {
        try await TestServer.with { server in
            let identity = try await SegmentdConnection.with(server.settings(apiKey: nil)) { connection in
                var metadata = Metadata()
                metadata.addString(server.ownerKey, forKey: "x-api-key")
                return try await connection.access.getCallerIdentity(.init(), metadata: metadata)
            }
            #expect(identity.tenant == "tenants/acme")
        }
    }

    @Test("no key, a malformed key and an unknown key are UNAUTHENTICATED with reason API_KEY_INVALID; a malformed key costs no lookup")
    func unauthenticated() async throws {
        try await TestServer.with { server in
            let unknown = APIKeySecret.generate().plaintext  // well-formed, never stored
            let cases: [(String?, Bool)] = [(nil, false), ("not-a-key", false), (String(server.ownerKey.dropLast()), false), (unknown, true)]
            for (key, looksUp) in cases {
                let before = server.server.authenticator.lookupCount
                let status = try await Self.callStatus(server, apiKey: key)
                #expect(status.code == .unauthenticated, "key \(key ?? "none")")
                #expect(status.reason == "API_KEY_INVALID")
                let lookups = server.server.authenticator.lookupCount - before
                #expect(lookups == (looksUp ? 1 : 0), "key \(key ?? "none") made \(lookups) lookups")
            }
        }
    }

    @Test("every contract method is built: none answers UNIMPLEMENTED, even to an empty request (after authentication)")
    func everyMethodBuilt() async throws {
        try await TestServer.with { server in
            try await SegmentdConnection.with(server.settings()) { connection in
                // Health/Watch streams for as long as the caller listens: it is served by the health service.
                for method in Contract.allMethods where method.fullyQualifiedMethod != "grpc.health.v1.Health/Watch" {
                    let outcome = try await RawCall.unary(connection, method, apiKey: server.ownerKey)
                    #expect(outcome.code != .unimplemented, "\(method): \(outcome)")
                }
            }
            let anonymous = try await Self.callStatus(server, apiKey: nil) { connection, metadata in
                _ = try await Segmentd_V1_PredictiveService.Client(wrapping: connection.client)
                    .getModelCard(.init(), metadata: metadata)
            }
            #expect(anonymous.code == .unauthenticated)
        }
    }

    @Test("while not serving, authenticated calls get UNAVAILABLE (NOT_SERVING)")
    func notServing() async throws {
        try await TestServer.with { server in
            server.server.health.set(.notServing)
            let status = try await Self.callStatus(server, apiKey: server.ownerKey)
            #expect(status.code == .unavailable)
            #expect(status.reason == "NOT_SERVING")
        }
    }

    @Test("a plaintext HTTP/2 connection to the TLS port fails")
    func plaintextRefused() async throws {
        try await TestServer.with { server in
            let transport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: "127.0.0.1", port: server.port), transportSecurity: .plaintext)
            let failed = try await withGRPCClient(transport: transport) { client -> Bool in
                do {
                    var options = CallOptions.defaults
                    options.timeout = .seconds(5)
                    _ = try await Grpc_Health_V1_Health.Client(wrapping: client).check(.init(), options: options)
                    return false
                } catch {
                    return true
                }
            }
            #expect(failed == true)
        }
    }

    @Test("a client that does not trust the server's CA cannot connect")
    func untrustedCertificate() async throws {
        try await TestServer.with { server in
            var settings = server.settings()
            settings.caPath = "/etc/ssl/certs/ca-certificates.crt"
            await #expect {
                try await SegmentdConnection.with(settings) { connection in
                    _ = try await connection.health.check(.init())
                }
            } throws: { error in
                (error as? ClientError)?.kind == .certificateNotTrusted
            }
        }
    }

    struct Status {
        let code: RPCError.Code?
        let reason: String?
    }

    /// Calls GetCallerIdentity (or `call`) with `apiKey`; returns the failure's code and ErrorInfo reason.
    static func callStatus(
        _ server: TestServer, apiKey: String?,
        call: (@Sendable (SegmentdConnection, Metadata) async throws -> Void)? = nil
    ) async throws -> Status {
        let settings = server.settings(apiKey: nil)
        do {
            return try await withGRPCClient(
                transport: try HTTP2ClientTransport.Posix(
                    target: .ipv4(address: "127.0.0.1", port: server.port),
                    transportSecurity: .tls(.defaults { $0.trustRoots = .certificates([.file(path: settings.caPath!, format: .pem)]) }))
            ) { client in
                var metadata = Metadata()
                if let apiKey { metadata.addString("Bearer \(apiKey)", forKey: "authorization") }
                let connection = SegmentdConnection(client: client, metadata: metadata)
                do {
                    if let call {
                        try await call(connection, metadata)
                    } else {
                        _ = try await connection.access.getCallerIdentity(.init(), metadata: metadata)
                    }
                    return Status(code: nil, reason: nil)
                } catch let error as RPCError {
                    let status = try error.unpackGoogleRPCStatus()
                    return Status(code: error.code, reason: status?.details.compactMap { $0.errorInfo?.reason }.first)
                }
            }
        }
    }
}
