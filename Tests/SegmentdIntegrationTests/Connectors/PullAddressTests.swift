import Foundation
import SegmentDomain
import SegmentEngine
import SegmentdAPI
import SegmentdTestSupport
import Testing

/// Server-side request forgery through PULL connectors (issue 16, item 1): each
/// test points a pull where an attacker with `connectors.manage` would, and
/// shows the pull never reaches it.
@Suite("Pulls reach public addresses only, unless the operator allows a network", .timeLimit(.minutes(5)))
struct PullAddressTests {
    typealias Pulls = PullTests

    static func allow(_ networks: String..., resolver: FixedHostResolver? = nil) -> @Sendable (inout UseCases.Configuration) -> Void {
        { configuration in
            configuration.pullPolicy = PullAddressPolicy(allowedNetworks: networks.map { IPNetwork($0)! })
            if let resolver { configuration.hostResolver = resolver }
        }
    }

    @Test("a server on 127.0.0.1 is refused by default (no request reaches it) and pulled when its network is allowed")
    func loopbackRefusedUnlessAllowed() async throws {
        let hidden = try await LocalHTTPServer.start { _ in .init(body: "user_id\nu0\nadmin-token-123\n") }
        defer { Task { await hidden.stop() } }
        try await TestServer.with { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection)
                _ = try await Pulls.createPull(connection, "metadata", url: hidden.url + "/latest/meta-data")
                let operation = try await Pulls.sync(server, connection, "metadata")
                #expect(operation.state == .failed, "\(operation.state)")
                #expect(operation.error.message.contains("refused") && operation.error.message.contains("pull_allowed_networks"))
                #expect(!operation.error.message.contains("admin-token"))
                #expect(operation.attempt == 1)
            }
        }
        #expect(hidden.requests.isEmpty)

        try await TestServer.with(configure: Self.allow("127.0.0.1/32")) { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection)
                _ = try await Pulls.createPull(connection, "onprem", url: hidden.url + "/ids.csv")
                let operation = try await Pulls.sync(server, connection, "onprem")
                #expect(operation.state == .succeeded, "\(operation.error.message)")
                #expect(try await ConnectorTests.members(server, "onprem") == ["u0"])
            }
        }
        #expect(hidden.requests.count == 1)
    }

    @Test("a public-looking host whose DNS answers 127.0.0.1 is refused; when allowed, the pull connects to the address that was checked")
    func dnsAnsweringLoopback() async throws {
        let hidden = try await LocalHTTPServer.start { _ in .init(body: "u0\n") }
        defer { Task { await hidden.stop() } }
        let resolver = FixedHostResolver(["files.partner-cdn.example": ["127.0.0.1"], "dual.partner-cdn.example": ["203.0.114.9", "::1"]])
        let refused = "http://files.partner-cdn.example:\(hidden.port)/ids.csv"
        try await TestServer.with(configure: { $0.hostResolver = resolver }) { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection)
                _ = try await Pulls.createPull(connection, "rebound", url: refused)
                let operation = try await Pulls.sync(server, connection, "rebound")
                #expect(operation.state == .failed && operation.error.message.contains("refused"), "\(operation.error.message)")
                // One public and one loopback address: refused too (the client could pick either).
                _ = try await Pulls.createPull(connection, "dual", url: "http://dual.partner-cdn.example:\(hidden.port)/ids.csv")
                let dual = try await Pulls.sync(server, connection, "dual")
                #expect(dual.state == .failed && dual.error.message.contains("::1"), "\(dual.error.message)")
            }
        }
        #expect(hidden.requests.isEmpty)

        // The name exists only in the test resolver: a pull that succeeds connected to the checked address.
        try await TestServer.with(configure: Self.allow("127.0.0.1/32", resolver: resolver)) { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection)
                _ = try await Pulls.createPull(connection, "pinned", url: refused)
                let operation = try await Pulls.sync(server, connection, "pinned")
                #expect(operation.state == .succeeded, "\(operation.error.message)")
            }
        }
        #expect(hidden.requests.map { $0.header("Host") } == ["files.partner-cdn.example:\(hidden.port)"])
    }

    @Test("a redirect from an allowed source to a refused address is refused; a cross-origin redirect does not carry the auth header")
    func redirects() async throws {
        let target = try await LocalHTTPServer.start { _ in .init(body: "user_id\nu1\n") }
        defer { Task { await target.stop() } }
        let source = try await LocalHTTPServer.start { request in
            switch request.path {
            case "/to-loopback": .init(status: 302, headers: [("Location", "http://127.0.0.2:\(target.port)/ids.csv")])
            case "/to-metadata": .init(status: 307, headers: [("Location", "http://169.254.169.254/latest/meta-data/")])
            case "/elsewhere": .init(status: 301, headers: [("Location", target.url + "/ids.csv")])
            default: .init(status: 302, headers: [("Location", "/final.csv")])
            }
        }
        defer { Task { await source.stop() } }
        // 127.0.0.1 only: the source and the target (another port) are allowed, 127.0.0.2 is not.
        try await TestServer.with(configure: Self.allow("127.0.0.1/32")) { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection)
                for (index, path) in ["/to-loopback", "/to-metadata"].enumerated() {
                    _ = try await Pulls.createPull(connection, "redirect_\(index)", url: source.url + path)
                    let operation = try await Pulls.sync(server, connection, "redirect_\(index)")
                    #expect(operation.state == .failed, "\(path): \(operation.state)")
                    #expect(operation.error.message.contains("redirected to a host whose address is not public"), "\(operation.error.message)")
                }
                #expect(target.requests.isEmpty)

                _ = try await Pulls.createPull(connection, "hop", url: source.url + "/elsewhere", authHeader: Pulls.secret)
                let hop = try await Pulls.sync(server, connection, "hop")
                #expect(hop.state == .succeeded, "\(hop.error.message)")
                #expect(source.requests.last?.header("Authorization") == Pulls.secret)
                #expect(target.requests.count == 1 && target.requests[0].header("Authorization") == nil)
            }
        }
    }

    @Test("a body that is not a list of the tenant's ids reports a count, never its lines")
    func nonConformingBodyIsNotEchoed() async throws {
        let page = "<html>\n<title>hidden admin</title>\nroot:x:0:0\nu0\n"
        let hidden = try await LocalHTTPServer.start { _ in .init(body: page) }
        defer { Task { await hidden.stop() } }
        try await TestServer.with(configure: Self.allow("127.0.0.1/32")) { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection)
                _ = try await Pulls.createPull(connection, "page", url: hidden.url + "/")
                let operation = try await Pulls.sync(server, connection, "page")
                #expect(operation.state == .succeeded, "\(operation.error.message)")
                #expect(operation.sync.matchedCount == 1 && operation.sync.unmatchedCount == 3)
                #expect(operation.sync.unmatchedSample.isEmpty)
            }
        }
    }
}
