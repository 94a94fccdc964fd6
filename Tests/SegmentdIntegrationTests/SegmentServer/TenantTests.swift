import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentServer
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("Tenants: platform operators create, list, rename, disable", .timeLimit(.minutes(5)))
struct TenantTests {
    @Test("create returns the tenant and an owner key that works in it; the id is validated; duplicates are refused")
    func create() async throws {
        try await TestServer.with(configure: { $0.authentication.cacheTTL = .zero }) { server in
            let created = try await server.connect(apiKey: server.platformKey) { connection in
                try await connection.tenants.createTenant(
                    .with {
                        $0.tenantID = "shop-eu"
                        $0.tenant.displayName = "Shop EU"
                        $0.tenant.timeZone = "Europe/Istanbul"
                    }, metadata: connection.metadata)
            }
            #expect(created.tenant.name == "tenants/shop-eu")
            #expect(created.tenant.timeZone == "Europe/Istanbul")
            #expect(created.ownerKey.apiKey.roles == ["owner"])
            let identity = try await server.connect(apiKey: created.ownerKey.secret) { connection in
                try await connection.access.getCallerIdentity(.init(), metadata: connection.metadata)
            }
            #expect(identity.tenant == "tenants/shop-eu")

            try await server.connect(apiKey: server.platformKey) { connection in
                for (id, code) in [("shop-eu", RPCError.Code.alreadyExists), ("Bad_Id", .invalidArgument), ("platform", .invalidArgument)] {
                    let outcome = try await RawCall.unary(
                        connection, Segmentd_V1_TenantService.Method.CreateTenant.descriptor,
                        message: try Segmentd_V1_CreateTenantRequest.with { $0.tenantID = id }.serializedBytes(),
                        apiKey: server.platformKey)
                    #expect(outcome.code == code, "\(id): \(outcome)")
                }
                let badZone = try await RawCall.unary(
                    connection, Segmentd_V1_TenantService.Method.CreateTenant.descriptor,
                    message: try Segmentd_V1_CreateTenantRequest.with {
                        $0.tenantID = "zoned"
                        $0.tenant.timeZone = "Mars/Olympus"
                    }.serializedBytes(),
                    apiKey: server.platformKey)
                #expect(badZone.code == .invalidArgument)
                let list = try await connection.tenants.listTenants(.init(), metadata: connection.metadata)
                #expect(list.tenants.map(\.name) == ["tenants/acme", "tenants/shop-eu"])
            }
        }
    }

    @Test("rename with an update mask and etag; a stale etag is ABORTED and changes nothing")
    func rename() async throws {
        try await TestServer.with { server in
            try await server.connect(apiKey: server.platformKey) { connection in
                let current = try await connection.tenants.getTenant(.with { $0.name = "tenants/acme" }, metadata: connection.metadata)
                let renamed = try await connection.tenants.updateTenant(
                    .with {
                        $0.tenant.name = "tenants/acme"
                        $0.tenant.displayName = "Acme Inc."
                        $0.tenant.etag = current.etag
                        $0.updateMask.paths = ["display_name"]
                    }, metadata: connection.metadata)
                #expect(renamed.displayName == "Acme Inc.")
                #expect(renamed.etag != current.etag)
                let stale = try await RawCall.unary(
                    connection, Segmentd_V1_TenantService.Method.UpdateTenant.descriptor,
                    message: try Segmentd_V1_UpdateTenantRequest.with {
                        $0.tenant.name = "tenants/acme"
                        $0.tenant.displayName = "Lost update"
                        $0.tenant.etag = current.etag
                        $0.updateMask.paths = ["display_name"]
                    }.serializedBytes(), apiKey: server.platformKey)
                #expect(stale.code == .aborted)
                let badMask = try await RawCall.unary(
                    connection, Segmentd_V1_TenantService.Method.UpdateTenant.descriptor,
                    message: try Segmentd_V1_UpdateTenantRequest.with {
                        $0.tenant.name = "tenants/acme"
                        $0.updateMask.paths = ["state"]
                    }.serializedBytes(), apiKey: server.platformKey)
                #expect(badMask.code == .invalidArgument)
                let after = try await connection.tenants.getTenant(.with { $0.name = "tenants/acme" }, metadata: connection.metadata)
                #expect(after.displayName == "Acme Inc.")
            }
        }
    }

    @Test("a disabled tenant's keys stop working within the cache delay, and work again once enabled")
    func disable() async throws {
        let clock = ManualClock()
        try await TestServer.with(configure: { $0.authentication.now = { clock.now() } }) { server in
            #expect(try await APIKeyTests.whoami(server, server.ownerKey) == nil)
            try await server.connect(apiKey: server.platformKey) { connection in
                let disabled = try await connection.tenants.disableTenant(.with { $0.name = "tenants/acme" }, metadata: connection.metadata)
                #expect(disabled.state == .disabled)
            }
            clock.advance(by: .seconds(2))
            #expect(try await APIKeyTests.whoami(server, server.ownerKey) == .unauthenticated)
            let listed = try await server.connect(apiKey: server.platformKey) { connection in
                try await connection.tenants.listTenants(.init(), metadata: connection.metadata).tenants.count
            }
            #expect(listed == 0, "disabled tenants are hidden unless asked for")
            try await server.connect(apiKey: server.platformKey) { connection in
                _ = try await connection.tenants.enableTenant(.with { $0.name = "tenants/acme" }, metadata: connection.metadata)
            }
            clock.advance(by: .seconds(2))
            #expect(try await APIKeyTests.whoami(server, server.ownerKey) == nil)
        }
    }

    @Test("a tenant's own key reads its tenant, and gets NOT_FOUND for any other, existing or not")
    func ownTenantOnly() async throws {
        try await TestServer.with { server in
            try await server.connect(apiKey: server.platformKey) { connection in
                _ = try await connection.tenants.createTenant(.with { $0.tenantID = "other" }, metadata: connection.metadata)
            }
            try await server.connect { connection in
                let own = try await connection.tenants.getTenant(.with { $0.name = "tenants/acme" }, metadata: connection.metadata)
                #expect(own.name == "tenants/acme")
                for name in ["tenants/other", "tenants/nonexistent", "tenants/platform"] {
                    let outcome = try await RawCall.unary(
                        connection, Segmentd_V1_TenantService.Method.GetTenant.descriptor,
                        message: try Segmentd_V1_GetTenantRequest.with { $0.name = name }.serializedBytes(), apiKey: server.ownerKey)
                    #expect(outcome.code == .notFound)
                    #expect(outcome.message == "\(name) not found")
                }
            }
        }
    }
}
