import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI

/// `segmentd.v1.AccessService`: the caller's identity, API keys and roles.
struct AccessService: Segmentd_V1_AccessService.SimpleServiceProtocol {
    let access: AccessAdministration
    let serverVersion: String

    func getCallerIdentity(
        request: Segmentd_V1_GetCallerIdentityRequest, context: ServerContext
    ) async throws -> Segmentd_V1_CallerIdentity {
        let principal = try RequestContext.require().principal
        return .with {
            $0.tenant = "tenants/\(principal.tenantID)"
            $0.apiKey = principal.keyName
            $0.apiKeyDisplayName = principal.keyDisplayName
            $0.apiKeyPrefix = principal.keyDisplayPrefix
            $0.roles = principal.roles
            $0.permissions = principal.permissions.sorted().map(\.name)
            $0.serverVersion = serverVersion
        }
    }

    func listPermissions(
        request: Segmentd_V1_ListPermissionsRequest, context: ServerContext
    ) async throws -> Segmentd_V1_ListPermissionsResponse {
        .with {
            $0.permissions = Permission.all.map { permission in
                .with {
                    $0.name = permission.name
                    $0.description_p = permission.summary
                }
            }
        }
    }

    // MARK: Keys

    func createApiKey(
        request: Segmentd_V1_CreateApiKeyRequest, context: ServerContext
    ) async throws -> Segmentd_V1_CreateApiKeyResponse {
        let call = try RequestContext.require()
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: call.principal)
        let issued = try await access.createKey(
            tenant: tenant, displayName: request.apiKey.displayName, roles: request.apiKey.roles,
            expiresAt: request.apiKey.hasExpireTime ? request.apiKey.expireTime.date : nil,
            grantor: call.principal.permissions, audit: call.audit())
        return .with {
            $0.apiKey = .init(issued.record)
            $0.secret = issued.plaintext
        }
    }

    func getApiKey(request: Segmentd_V1_GetApiKeyRequest, context: ServerContext) async throws -> Segmentd_V1_ApiKey {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try ResourceName.child(request.name, collection: "apiKeys", field: "name", for: principal)
        return .init(try await access.key(tenant: tenant, keyID: id))
    }

    func listApiKeys(
        request: Segmentd_V1_ListApiKeysRequest, context: ServerContext
    ) async throws -> Segmentd_V1_ListApiKeysResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 50, maximum: 500)
        let (page, next) = try await access.listKeys(
            tenant: tenant, showRevoked: request.showRevoked, pageSize: size,
            pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
        return .with {
            $0.apiKeys = page.map(Segmentd_V1_ApiKey.init)
            $0.nextPageToken = next ?? ""
        }
    }

    func revokeApiKey(request: Segmentd_V1_RevokeApiKeyRequest, context: ServerContext) async throws -> Segmentd_V1_ApiKey {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "apiKeys", field: "name", for: call.principal)
        return .init(try await access.revokeKey(tenant: tenant, keyID: id, grantor: call.principal.permissions, audit: call.audit()))
    }

    func rollApiKey(
        request: Segmentd_V1_RollApiKeyRequest, context: ServerContext
    ) async throws -> Segmentd_V1_CreateApiKeyResponse {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "apiKeys", field: "name", for: call.principal)
        let grace: Duration = .seconds(request.gracePeriod.seconds) + .nanoseconds(Int64(request.gracePeriod.nanos))
        let issued = try await access.rollKey(
            tenant: tenant, keyID: id, grace: grace, grantor: call.principal.permissions, audit: call.audit())
        return .with {
            $0.apiKey = .init(issued.record)
            $0.secret = issued.plaintext
        }
    }

    // MARK: Roles

    func createRole(request: Segmentd_V1_CreateRoleRequest, context: ServerContext) async throws -> Segmentd_V1_Role {
        let call = try RequestContext.require()
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: call.principal)
        let role = try await access.createRole(
            tenant: tenant, roleID: request.roleID,
            displayName: request.role.displayName.isEmpty ? request.roleID : request.role.displayName,
            description: request.role.description_p, permissions: request.role.permissions,
            grantor: call.principal.permissions, audit: call.audit())
        return .init(role)
    }

    func getRole(request: Segmentd_V1_GetRoleRequest, context: ServerContext) async throws -> Segmentd_V1_Role {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try ResourceName.child(request.name, collection: "roles", field: "name", for: principal)
        return .init(try await access.role(tenant: tenant, roleID: id))
    }

    func listRoles(request: Segmentd_V1_ListRolesRequest, context: ServerContext) async throws -> Segmentd_V1_ListRolesResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 50, maximum: 500)
        let (page, next) = try await access.listRoles(
            tenant: tenant, pageSize: size, pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
        return .with {
            $0.roles = page.map(Segmentd_V1_Role.init)
            $0.nextPageToken = next ?? ""
        }
    }

    func updateRole(request: Segmentd_V1_UpdateRoleRequest, context: ServerContext) async throws -> Segmentd_V1_Role {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.role.name, collection: "roles", field: "role.name", for: call.principal)
        let paths = try ResourceName.updatePaths(request.updateMask.paths, allowed: ["display_name", "description", "permissions"])
        let role = try await access.updateRole(
            tenant: tenant, roleID: id,
            displayName: paths.contains("display_name") ? request.role.displayName : nil,
            description: paths.contains("description") ? request.role.description_p : nil,
            permissions: paths.contains("permissions") ? request.role.permissions : nil,
            etag: try ResourceName.etag(request.role.etag, field: "role.etag"),
            grantor: call.principal.permissions, audit: call.audit())
        return .init(role)
    }

    func deleteRole(request: Segmentd_V1_DeleteRoleRequest, context: ServerContext) async throws -> Segmentd_V1_Empty {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "roles", field: "name", for: call.principal)
        try await access.deleteRole(tenant: tenant, roleID: id, etag: try ResourceName.etag(request.etag), audit: call.audit())
        return .init()
    }
}
