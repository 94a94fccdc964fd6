import Foundation
import GRPCCore
import Logging
import PostgresNIO
import SegmentDomain
import SegmentEngine
import SegmentServer
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("API keys: create once, list, revoke, roll, expire; the revocation delay", .timeLimit(.minutes(5)))
struct APIKeyTests {
    static func whoami(_ server: TestServer, _ key: String) async throws -> RPCError.Code? {
        try await server.connect(apiKey: key) { connection in
            try await RawCall.unary(connection, Segmentd_V1_AccessService.Method.GetCallerIdentity.descriptor, apiKey: key).code
        }
    }

    @Test("revoking needs permissions that cover the key's (an admin cannot revoke an owner key), and a tenant's last owner key cannot be revoked")
    func revocationLimits() async throws {
        try await TestServer.with { server in
            let admin = try await server.createKey(roles: ["admin"])
            let ownerName = try await server.connect { connection in
                try await connection.access.getCallerIdentity(.init(), metadata: connection.metadata).apiKey
            }
            // The attack: an admin revokes the owner's key.
            let byAdmin = try await server.connect(apiKey: admin) { connection in
                try await RawCall.unary(
                    connection, Segmentd_V1_AccessService.Method.RevokeApiKey.descriptor,
                    message: try Segmentd_V1_RevokeApiKeyRequest.with { $0.name = ownerName }.serializedBytes(), apiKey: admin)
            }
            #expect(byAdmin.code == .permissionDenied, "\(byAdmin)")
            // The owner cannot revoke the tenant's only owner key either: nobody could manage keys or roles after it.
            let last = try await server.connect { connection in
                await SegmentLifecycleTests.code {
                    _ = try await connection.access.revokeApiKey(.with { $0.name = ownerName }, metadata: connection.metadata)
                }
            }
            #expect(last.0 == .failedPrecondition && last.1.contains("last owner key"), "\(last)")
            // With a second owner key, the first can go.
            let second = try await server.createKey(roles: ["owner"])
            let revoked = try await server.connect(apiKey: second) { connection in
                try await connection.access.revokeApiKey(.with { $0.name = ownerName }, metadata: connection.metadata)
            }
            #expect(revoked.hasRevokeTime)
        }
    }

    @Test("a revoked key keeps working only until the auth cache expires (2 s), then fails")
    func revocationDelay() async throws {
        let clock = ManualClock()
        try await TestServer.with(configure: { $0.authentication.now = { clock.now() } }) { server in
            let key = try await server.createKey(roles: ["viewer"])
            #expect(try await Self.whoami(server, key) == nil)
            let keyName = try await server.connect(apiKey: key) { connection in
                try await connection.access.getCallerIdentity(.init(), metadata: connection.metadata).apiKey
            }
            let revoked = try await server.connect { connection in
                try await connection.access.revokeApiKey(.with { $0.name = keyName }, metadata: connection.metadata)
            }
            #expect(revoked.hasRevokeTime)
            // Within the documented delay the cached answer may still be used…
            #expect(try await Self.whoami(server, key) == nil)
            clock.advance(by: .milliseconds(1999))
            #expect(try await Self.whoami(server, key) == nil)
            // …and never after it.
            clock.advance(by: .milliseconds(2))
            #expect(try await Self.whoami(server, key) == .unauthenticated)
        }
    }

    @Test("get and list show metadata and never the secret; list pages and hides revoked keys unless asked")
    func listAndGet() async throws {
        try await TestServer.with { server in
            var secrets: [String] = []
            for index in 0..<5 { secrets.append(try await server.createKey(roles: ["viewer"], name: "k\(index)")) }
            try await server.connect { connection in
                var names: [String] = []
                var token = ""
                repeat {
                    let page = try await connection.access.listApiKeys(
                        .with {
                            $0.parent = "tenants/acme"
                            $0.pageSize = 2
                            $0.pageToken = token
                        }, metadata: connection.metadata)
                    #expect(page.apiKeys.count <= 2)
                    names += page.apiKeys.map(\.displayName)
                    token = page.nextPageToken
                } while !token.isEmpty
                #expect(names == ["k4", "k3", "k2", "k1", "k0", "owner"])
                let listed = try await connection.access.listApiKeys(.with { $0.parent = "tenants/acme" }, metadata: connection.metadata)
                let text = try listed.jsonString()
                for secret in secrets { #expect(!text.contains(secret)) }
                let first = try #require(listed.apiKeys.first)
                #expect(secrets[4].hasPrefix(first.displayPrefix))
                #expect(first.creator.hasPrefix("tenants/acme/apiKeys/"))
                let got = try await connection.access.getApiKey(.with { $0.name = first.name }, metadata: connection.metadata)
                #expect(got == first)
                _ = try await connection.access.revokeApiKey(.with { $0.name = first.name }, metadata: connection.metadata)
                let active = try await connection.access.listApiKeys(.with { $0.parent = "tenants/acme" }, metadata: connection.metadata)
                #expect(!active.apiKeys.contains { $0.name == first.name })
                let all = try await connection.access.listApiKeys(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.showRevoked = true
                    }, metadata: connection.metadata)
                #expect(all.apiKeys.contains { $0.name == first.name })
            }
        }
    }

    @Test("roll: the new key works; the old one for the grace period only (zero: at once)")
    func roll() async throws {
        try await TestServer.with(configure: { $0.authentication.cacheTTL = .zero }) { server in
            let key = try await server.createKey(roles: ["viewer"], name: "rolled")
            let name = try await server.connect(apiKey: key) { connection in
                try await connection.access.getCallerIdentity(.init(), metadata: connection.metadata).apiKey
            }
            let withGrace = try await server.connect { connection in
                try await connection.access.rollApiKey(
                    .with {
                        $0.name = name
                        $0.gracePeriod.seconds = 3600
                    }, metadata: connection.metadata)
            }
            #expect(withGrace.apiKey.displayName == "rolled")
            #expect(withGrace.apiKey.roles == ["viewer"])
            #expect(try await Self.whoami(server, withGrace.secret) == nil)
            #expect(try await Self.whoami(server, key) == nil, "the old key works during the grace period")
            let old = try await server.connect { connection in
                try await connection.access.getApiKey(.with { $0.name = name }, metadata: connection.metadata)
            }
            #expect(old.replacedBy == withGrace.apiKey.name)
            #expect(old.revokeTime.date > Date().addingTimeInterval(3500))

            let immediate = try await server.connect { connection in
                try await connection.access.rollApiKey(.with { $0.name = withGrace.apiKey.name }, metadata: connection.metadata)
            }
            #expect(try await Self.whoami(server, withGrace.secret) == .unauthenticated)
            #expect(try await Self.whoami(server, immediate.secret) == nil)
        }
    }

    @Test("expired keys fail; an expiry in the past is refused at creation")
    func expiry() async throws {
        try await TestServer.with(configure: { $0.authentication.cacheTTL = .zero }) { server in
            try await server.connect { connection in
                let past = try await RawCall.unary(
                    connection, Segmentd_V1_AccessService.Method.CreateApiKey.descriptor,
                    message: try Segmentd_V1_CreateApiKeyRequest.with {
                        $0.parent = "tenants/acme"
                        $0.apiKey.displayName = "old"
                        $0.apiKey.roles = ["viewer"]
                        $0.apiKey.expireTime = .init(date: Date().addingTimeInterval(-60))
                    }.serializedBytes(), apiKey: server.ownerKey)
                #expect(past.code == .invalidArgument)
                let created = try await connection.access.createApiKey(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.apiKey.displayName = "soon"
                        $0.apiKey.roles = ["viewer"]
                        $0.apiKey.expireTime = .init(date: Date().addingTimeInterval(3600))
                    }, metadata: connection.metadata)
                #expect(try await Self.whoami(server, created.secret) == nil)
                // Time passes (in the database): the key's expiry is now behind us.
                let id = shortName(created.apiKey.name)
                try await server.database.superuser.withSingleConnection(logger: Logger(label: "t")) { db in
                    try await db.query(
                        "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE key_id = \(id)", logger: Logger(label: "t"))
                }
                #expect(try await Self.whoami(server, created.secret) == .unauthenticated)
            }
        }
    }

    @Test("last used is written at most once a minute per key, not on every request")
    func lastUsedIsRare() async throws {
        let clock = ManualClock()
        try await TestServer.with(configure: {
            $0.authentication.cacheTTL = .zero
            $0.authentication.now = { clock.now() }
        }) { server in
            let key = try await server.createKey(roles: ["viewer"])
            let before = server.server.authenticator.lastUseWriteCount
            for _ in 0..<20 { #expect(try await Self.whoami(server, key) == nil) }
            #expect(server.server.authenticator.lastUseWriteCount - before == 1)
            clock.advance(by: .seconds(61))
            #expect(try await Self.whoami(server, key) == nil)
            // The database clock has not moved a minute, so its guard holds the write back too.
            #expect(server.server.authenticator.lastUseWriteCount - before == 1)
            let listed = try await server.connect { connection in
                try await connection.access.listApiKeys(.with { $0.parent = "tenants/acme" }, metadata: connection.metadata)
            }
            #expect(listed.apiKeys.first { $0.displayName == "test" }?.hasLastUsedTime == true)
        }
    }
}
