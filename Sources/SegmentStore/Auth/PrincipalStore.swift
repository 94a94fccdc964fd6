import Logging
import NIOCore
import PostgresNIO
import SegmentDomain

/// Resolves API keys to principals.
public struct PrincipalStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Looks `secret` up and checks it is usable now.
    ///
    /// Two steps: the hash's tenant (through a security-definer function: the server
    /// role cannot read the lookup table), then the key and tenant rows in a
    /// transaction scoped to that tenant.
    public func resolve(_ secret: APIKeySecret) async throws -> Result<Principal, AuthenticationFailure> {
        let hash = secret.hash
        let hashBytes = ByteBuffer(bytes: hash)
        let located = try await database.withConnection { connection in
            var found: (String, String)?
            for try await row in try await connection.query(
                "SELECT tenant_id, key_id FROM resolve_api_key(\(hashBytes))", logger: database.logger
            ).decode((String, String).self) {
                found = row
            }
            return found
        }
        guard let (tenantRaw, keyID) = located, let tenantID = TenantID(tenantRaw) else {
            return .failure(.unknown)
        }
        typealias Row = (String, String, ByteBuffer, [String], Bool, Bool, String, Bool)
        let (row, customPermissions): (Row?, [String]) = try await database.withTenant(tenantID) { connection in
            var result: Row?
            for try await row in try await connection.query(
                """
                SELECT k.display_name, k.display_prefix, k.key_hash, k.roles,
                       k.revoked_at IS NOT NULL AND k.revoked_at <= now(),
                       k.expires_at IS NOT NULL AND k.expires_at <= now(),
                       t.state, t.is_platform
                FROM api_keys k JOIN tenants t ON t.tenant_id = k.tenant_id
                WHERE k.key_id = \(keyID)
                """, logger: database.logger
            ).decode(Row.self) {
                result = row
            }
            var custom: [String] = []
            if let roles = result?.3 {
                for try await permissions in try await connection.query(
                    "SELECT permissions FROM roles WHERE role_id = ANY(\(roles))", logger: database.logger
                ).decode([String].self) {
                    custom += permissions
                }
            }
            return (result, custom)
        }
        guard let (displayName, displayPrefix, storedHash, roles, revoked, expired, state, isPlatform) = row,
            APIKeySecret.constantTimeEqual(Array(storedHash.readableBytesView), hash)
        else { return .failure(.unknown) }
        if revoked { return .failure(.revoked) }
        if expired { return .failure(.expired) }
        if state != "active" { return .failure(.tenantDisabled) }
        var permissions = Set(customPermissions.compactMap(Permission.named))
        for role in roles {
            if let builtIn = BuiltInRole.named(role, in: tenantID) { permissions.formUnion(builtIn.permissions) }
        }
        if !isPlatform { permissions.remove(.tenantsManage) }
        return .success(
            Principal(
                tenantID: tenantID, keyID: keyID, keyDisplayName: displayName, keyDisplayPrefix: displayPrefix,
                roles: roles, isPlatform: isPlatform, permissions: permissions))
    }

    /// Records that a key was used, at most once a minute per key (the WHERE
    /// clause holds that across replicas too). Returns whether a row was written.
    @discardableResult
    public func touchLastUsed(_ principal: Principal) async throws -> Bool {
        try await database.withTenant(principal.tenantID) { connection in
            let rows = try await connection.query(
                """
                UPDATE api_keys SET last_used_at = date_trunc('second', now())
                WHERE key_id = \(principal.keyID)
                  AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
                RETURNING key_id
                """, logger: database.logger)
            var written = false
            for try await _ in rows { written = true }
            return written
        }
    }
}
