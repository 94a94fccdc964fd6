import Foundation
import SegmentDomain
import SegmentStore

/// A tenant's API keys and custom roles (the platform tenant's keys too: operators roll
/// and revoke them like any tenant's). What a key or role may grant is bounded by the
/// permissions of the caller who grants it.
public struct AccessAdministration: Sendable {
    let keys: APIKeyStore
    let roles: RoleStore

    public init(keys: APIKeyStore, roles: RoleStore) {
        self.keys = keys
        self.roles = roles
    }

    // MARK: Keys

    /// Creates a key; its secret is returned this once and stored only as a hash.
    public func createKey(
        tenant: TenantID, displayName: String, roles: [String], expiresAt: Date?, grantor: Set<Permission>, audit: AuditContext
    ) async throws -> IssuedKey {
        let (record, secret) = try await keys.create(
            tenant: tenant, displayName: displayName, roles: roles, expiresAt: expiresAt, grantor: grantor, audit: audit)
        return IssuedKey(record: record, plaintext: secret.plaintext)
    }

    public func key(tenant: TenantID, keyID: String) async throws -> APIKeyRecord {
        try await keys.get(tenant: tenant, keyID: keyID)
    }

    public func listKeys(tenant: TenantID, showRevoked: Bool, pageSize: Int, pageToken: String?) async throws -> ([APIKeyRecord], String?) {
        try await keys.list(tenant: tenant, showRevoked: showRevoked, pageSize: pageSize, pageToken: pageToken)
    }

    /// Revokes a key whose permissions the caller's cover; never the last working key of the
    /// tenant's administrator role (owner; platform_admin in the platform tenant).
    public func revokeKey(tenant: TenantID, keyID: String, grantor: Set<Permission>, audit: AuditContext) async throws -> APIKeyRecord {
        try await keys.revoke(tenant: tenant, keyID: keyID, grantor: grantor, audit: audit)
    }

    /// Issues a successor key; the old one keeps working for `grace`.
    public func rollKey(
        tenant: TenantID, keyID: String, grace: Duration, grantor: Set<Permission>, audit: AuditContext
    ) async throws -> IssuedKey {
        let (record, secret) = try await keys.roll(tenant: tenant, keyID: keyID, grace: grace, grantor: grantor, audit: audit)
        return IssuedKey(record: record, plaintext: secret.plaintext)
    }

    // MARK: Roles

    public func createRole(
        tenant: TenantID, roleID: String, displayName: String, description: String, permissions: [String],
        grantor: Set<Permission>, audit: AuditContext
    ) async throws -> RoleRecord {
        try await roles.create(
            tenant: tenant, roleID: roleID, displayName: displayName, description: description, permissions: permissions,
            grantor: grantor, audit: audit)
    }

    public func role(tenant: TenantID, roleID: String) async throws -> RoleRecord {
        try await roles.get(tenant: tenant, roleID: roleID)
    }

    public func listRoles(tenant: TenantID, pageSize: Int, pageToken: String?) async throws -> ([RoleRecord], String?) {
        try await roles.list(tenant: tenant, pageSize: pageSize, pageToken: pageToken)
    }

    public func updateRole(
        tenant: TenantID, roleID: String, displayName: String?, description: String?, permissions: [String]?,
        etag: Int64?, grantor: Set<Permission>, audit: AuditContext
    ) async throws -> RoleRecord {
        try await roles.update(
            tenant: tenant, roleID: roleID, displayName: displayName, description: description, permissions: permissions,
            etag: etag, grantor: grantor, audit: audit)
    }

    public func deleteRole(tenant: TenantID, roleID: String, etag: Int64?, audit: AuditContext) async throws {
        try await roles.delete(tenant: tenant, roleID: roleID, etag: etag, audit: audit)
    }
}
