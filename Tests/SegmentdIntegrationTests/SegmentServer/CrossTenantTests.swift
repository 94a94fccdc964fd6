import GRPCCore
import SegmentServer
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import SwiftProtobuf
import Testing

@Suite("Cross-tenant probes: another tenant's resources are NOT_FOUND, existing or not", .timeLimit(.minutes(5)))
struct CrossTenantTests {
    /// A request naming `target` (a tenant name like `tenants/other`) for each
    /// implemented method that takes a resource name.
    static func probes(target tenant: String, keyID: String, roleID: String) throws -> [(MethodDescriptor, [UInt8])] {
        typealias A = Segmentd_V1_AccessService.Method
        typealias T = Segmentd_V1_TenantService.Method
        typealias U = Segmentd_V1_AuditService.Method
        return [
            (T.GetTenant.descriptor, try Segmentd_V1_GetTenantRequest.with { $0.name = tenant }.serializedBytes()),
            (A.CreateApiKey.descriptor, try Segmentd_V1_CreateApiKeyRequest.with {
                $0.parent = tenant; $0.apiKey.displayName = "x"; $0.apiKey.roles = ["viewer"]
            }.serializedBytes()),
            (A.GetApiKey.descriptor, try Segmentd_V1_GetApiKeyRequest.with { $0.name = "\(tenant)/apiKeys/\(keyID)" }.serializedBytes()),
            (A.ListApiKeys.descriptor, try Segmentd_V1_ListApiKeysRequest.with { $0.parent = tenant }.serializedBytes()),
            (A.RevokeApiKey.descriptor, try Segmentd_V1_RevokeApiKeyRequest.with { $0.name = "\(tenant)/apiKeys/\(keyID)" }.serializedBytes()),
            (A.RollApiKey.descriptor, try Segmentd_V1_RollApiKeyRequest.with { $0.name = "\(tenant)/apiKeys/\(keyID)" }.serializedBytes()),
            (A.CreateRole.descriptor, try Segmentd_V1_CreateRoleRequest.with {
                $0.parent = tenant; $0.roleID = "probe"; $0.role.permissions = ["segments.read"]
            }.serializedBytes()),
            (A.GetRole.descriptor, try Segmentd_V1_GetRoleRequest.with { $0.name = "\(tenant)/roles/\(roleID)" }.serializedBytes()),
            (A.ListRoles.descriptor, try Segmentd_V1_ListRolesRequest.with { $0.parent = tenant }.serializedBytes()),
            (A.UpdateRole.descriptor, try Segmentd_V1_UpdateRoleRequest.with {
                $0.role.name = "\(tenant)/roles/\(roleID)"; $0.role.displayName = "x"; $0.updateMask.paths = ["display_name"]
            }.serializedBytes()),
            (A.DeleteRole.descriptor, try Segmentd_V1_DeleteRoleRequest.with { $0.name = "\(tenant)/roles/\(roleID)" }.serializedBytes()),
            (U.ListAuditEvents.descriptor, try Segmentd_V1_ListAuditEventsRequest.with { $0.parent = tenant }.serializedBytes()),
            (U.VerifyAuditChain.descriptor, try Segmentd_V1_VerifyAuditChainRequest.with { $0.parent = tenant }.serializedBytes()),
        ]
    }

    @Test("tenant A's owner key naming tenant B's keys, roles, audit log or tenant gets NOT_FOUND, the same as for names that do not exist")
    func matrix() async throws {
        try await TestServer.with { server in
            let other = try await server.connect(apiKey: server.platformKey) { connection in
                try await connection.tenants.createTenant(.with { $0.tenantID = "other" }, metadata: connection.metadata)
            }
            let otherKeyID = shortName(other.ownerKey.apiKey.name)
            _ = try await SegmentdConnection.with(server.settings(apiKey: other.ownerKey.secret)) { connection in
                try await connection.access.createRole(
                    .with { $0.parent = "tenants/other"; $0.roleID = "secret_role"; $0.role.permissions = ["segments.read"] },
                    metadata: connection.metadata)
            }
            try await server.connect { connection in
                let existing = try Self.probes(target: "tenants/other", keyID: otherKeyID, roleID: "secret_role")
                let missing = try Self.probes(target: "tenants/nobody", keyID: "nokey", roleID: "norole")
                for ((method, real), (_, fake)) in zip(existing, missing) {
                    let a = try await RawCall.unary(connection, method, message: real, apiKey: server.ownerKey)
                    let b = try await RawCall.unary(connection, method, message: fake, apiKey: server.ownerKey)
                    #expect(a.code == .notFound, "\(method): \(a)")
                    #expect(b.code == .notFound, "\(method): \(b)")
                    // Same answer apart from the name asked about: nothing reveals that B's resource exists.
                    let normalized = a.message.replacingOccurrences(of: "tenants/other", with: "T")
                        .replacingOccurrences(of: otherKeyID, with: "ID").replacingOccurrences(of: "secret_role", with: "ID")
                    let normalizedMissing = b.message.replacingOccurrences(of: "tenants/nobody", with: "T")
                        .replacingOccurrences(of: "nokey", with: "ID").replacingOccurrences(of: "norole", with: "ID")
                    #expect(normalized == normalizedMissing, "\(method)")
                }
            }
            // Nothing was changed in B.
            let roles = try await SegmentdConnection.with(server.settings(apiKey: other.ownerKey.secret)) { connection in
                try await connection.access.listRoles(.with { $0.parent = "tenants/other" }, metadata: connection.metadata)
            }
            #expect(roles.roles.map(\.name).filter { $0.hasSuffix("probe") }.isEmpty)
        }
    }
}
