import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// API keys of a tenant: create (the secret is returned once), list, get,
/// revoke, roll.
public struct APIKeyStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    static let columns = """
        tenant_id, key_id, display_name, display_prefix, roles, created_at, created_by, expires_at, revoked_at,
        last_used_at, replaced_by, etag
        """

    static func decode(_ row: PostgresRow) throws -> APIKeyRecord {
        let (tenant, keyID, displayName, prefix, roles, created, createdBy) =
            try row.decode((String, String, String, String, [String], Date, String).self)
        let columns = row.makeRandomAccess()
        guard let tenantID = TenantID(tenant) else { throw DomainError(.internalError, "stored tenant id is invalid") }
        return APIKeyRecord(
            tenantID: tenantID, keyID: keyID, displayName: displayName, displayPrefix: prefix, roles: roles,
            createdAt: created, createdBy: createdBy, expiresAt: try columns[7].decode(Date?.self),
            revokedAt: try columns[8].decode(Date?.self), lastUsedAt: try columns[9].decode(Date?.self),
            replacedBy: try columns[10].decode(String?.self), etag: try columns[11].decode(Int64.self))
    }

    /// Inserts a key row on `connection` (whose tenant must be `tenant`).
    static func insert(
        tenant: TenantID, displayName: String, roles: [String], expiresAt: Date?, secret: APIKeySecret,
        createdBy: String, on connection: PostgresConnection, logger: Logger
    ) async throws -> APIKeyRecord {
        for try await row in try await connection.query(
            """
            INSERT INTO api_keys (tenant_id, key_id, display_name, display_prefix, key_hash, roles, created_by, expires_at)
            VALUES (\(tenant.rawValue), \(ResourceID.random()), \(displayName), \(secret.displayPrefix),
                    \(ByteBuffer(bytes: secret.hash)), \(roles), \(createdBy), \(expiresAt))
            RETURNING \(unescaped: columns)
            """, logger: logger)
        {
            return try decode(row)
        }
        throw DomainError(.internalError, "key insert returned nothing")
    }

    /// What `roles` grant together (roles that no longer exist grant nothing).
    func permissions(of roles: [String], tenant: TenantID, on connection: PostgresConnection) async throws -> Set<Permission> {
        var granted: Set<Permission> = []
        for try await permissions in try await connection.query(
            "SELECT permissions FROM roles WHERE role_id = ANY(\(roles))", logger: database.logger
        ).decode([String].self) {
            granted.formUnion(permissions.compactMap(Permission.named))
        }
        for role in roles { if let builtIn = BuiltInRole.named(role, in: tenant) { granted.formUnion(builtIn.permissions) } }
        return granted
    }

    /// Checks that `roles` exist in `tenant` and grant nothing `grantor` lacks
    /// (no one can mint a key more powerful than their own).
    func validateRoles(
        _ roles: [String], tenant: TenantID, grantor: Set<Permission>, on connection: PostgresConnection
    ) async throws {
        guard !roles.isEmpty else { throw DomainError.invalid("roles", "a key needs at least one role") }
        guard Set(roles).count == roles.count else { throw DomainError.invalid("roles", "a role is listed twice") }
        var custom: [String: [String]] = [:]
        for try await (role, permissions) in try await connection.query(
            "SELECT role_id, permissions FROM roles WHERE role_id = ANY(\(roles))", logger: database.logger
        ).decode((String, [String]).self) {
            custom[role] = permissions
        }
        for role in roles {
            let granted: Set<Permission>
            if let builtIn = BuiltInRole.named(role, in: tenant) {
                granted = builtIn.permissions
            } else if let permissions = custom[role] {
                granted = Set(permissions.compactMap(Permission.named))
            } else {
                throw DomainError.invalid("roles", "no role '\(role)' in tenants/\(tenant)")
            }
            let missing = granted.subtracting(grantor)
            guard missing.isEmpty else {
                throw DomainError(
                    .permissionDenied,
                    "cannot grant role '\(role)': it includes \(missing.sorted().map(\.name).joined(separator: ", ")), which your key lacks")
            }
        }
    }

    /// Creates a key; returns it with its secret (show once).
    public func create(
        tenant: TenantID, displayName: String, roles: [String], expiresAt: Date?, grantor: Set<Permission>,
        audit: AuditContext
    ) async throws -> (APIKeyRecord, APIKeySecret) {
        guard (1...100).contains(displayName.count) else {
            throw DomainError.invalid("display_name", "1 to 100 characters")
        }
        if let expiresAt, expiresAt <= Date() {
            throw DomainError.invalid("expire_time", "must be in the future")
        }
        let secret = APIKeySecret.generate()
        return try await database.audited(audit, resource: "tenants/\(tenant)/apiKeys") { connection, record in
            try await validateRoles(roles, tenant: tenant, grantor: grantor, on: connection)
            let key = try await Self.insert(
                tenant: tenant, displayName: displayName, roles: roles, expiresAt: expiresAt, secret: secret,
                createdBy: audit.actor.name, on: connection, logger: database.logger)
            record.resource = key.name
            record.after = key.auditFields
            return (key, secret)
        }
    }

    /// Gets a key.
    public func get(tenant: TenantID, keyID: String) async throws -> APIKeyRecord {
        try await database.withTenant(tenant) { connection in
            try await Self.fetch(keyID, tenant: tenant, on: connection, logger: database.logger, lock: false)
        }
    }

    static func fetch(_ keyID: String, tenant: TenantID, on connection: PostgresConnection, logger: Logger, lock: Bool) async throws -> APIKeyRecord {
        for try await row in try await connection.query(
            "SELECT \(unescaped: columns) FROM api_keys WHERE key_id = \(keyID) \(unescaped: lock ? "FOR UPDATE" : "")",
            logger: logger)
        {
            return try decode(row)
        }
        throw DomainError(.notFound, "tenants/\(tenant)/apiKeys/\(keyID) not found")
    }

    /// Lists keys, newest first.
    public func list(tenant: TenantID, showRevoked: Bool, pageSize: Int, pageToken: String?) async throws -> ([APIKeyRecord], String?) {
        var afterTime: Date?
        var afterID: String?
        if let pageToken {
            guard let parts = PageToken.decode(pageToken), parts.count == 2, let micros = Int64(parts[0]) else {
                throw DomainError.invalid("page_token", "not a token from this list")
            }
            afterTime = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
            afterID = parts[1]
        }
        let keys = try await database.withTenant(tenant) { connection -> [APIKeyRecord] in
            var keys: [APIKeyRecord] = []
            for try await row in try await connection.query(
                """
                SELECT \(unescaped: Self.columns) FROM api_keys
                WHERE (\(showRevoked) OR ((revoked_at IS NULL OR revoked_at > now()) AND (expires_at IS NULL OR expires_at > now())))
                  AND (\(afterTime)::timestamptz IS NULL OR (created_at, key_id) < (\(afterTime), \(afterID)))
                ORDER BY created_at DESC, key_id DESC LIMIT \(pageSize + 1)
                """, logger: database.logger)
            {
                keys.append(try Self.decode(row))
            }
            return keys
        }
        return keys.paged(pageSize: pageSize) { key in
            PageToken.encode([String(Int64((key.createdAt.timeIntervalSince1970 * 1_000_000).rounded())), key.keyID])
        }
    }

    /// Revokes a key now (idempotent: an already revoked key keeps its time). The caller's
    /// permissions must cover the key's (an admin cannot revoke an owner key), and the last
    /// active key of the tenant's administrator role (``BuiltInRole/administrator(of:)``: owner,
    /// or platform_admin in the platform tenant) cannot be revoked.
    public func revoke(tenant: TenantID, keyID: String, grantor: Set<Permission>, audit: AuditContext) async throws -> APIKeyRecord {
        try await database.audited(audit, resource: "tenants/\(tenant)/apiKeys/\(keyID)") { connection, record in
            let before = try await Self.fetch(keyID, tenant: tenant, on: connection, logger: database.logger, lock: true)
            let missing = try await permissions(of: before.roles, tenant: tenant, on: connection).subtracting(grantor)
            guard missing.isEmpty else {
                throw DomainError(
                    .permissionDenied,
                    "cannot revoke \(before.displayName): its roles include \(missing.sorted().map(\.name).joined(separator: ", ")), which your key lacks"
                )
            }
            let administrator = BuiltInRole.administrator(of: tenant)
            if before.roles.contains(administrator.id), before.revokedAt == nil {
                // Serialise concurrent revocations of the tenant's administrator keys (two keys revoking
                // each other would each see the other still working), then count the others that still
                // work. The lock keeps its `owner-keys:` name in the platform tenant too.
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext('owner-keys:' || \(tenant.rawValue)))", logger: database.logger)
                var others: Int64 = 0
                for try await count in try await connection.query(
                    """
                    SELECT count(*)::int8 FROM api_keys
                    WHERE key_id <> \(keyID) AND \(administrator.id) = ANY(roles) AND revoked_at IS NULL
                      AND (expires_at IS NULL OR expires_at > now())
                    """, logger: database.logger
                ).decode(Int64.self) { others = count }
                guard others > 0 else {
                    throw DomainError(
                        .failedPrecondition,
                        "\(before.displayName) is the last \(administrator.id) key of tenants/\(tenant): create another \(administrator.id) key before revoking it (without one, the tenant may have no key able to issue one)"
                    )
                }
            }
            var after = before
            for try await row in try await connection.query(
                """
                UPDATE api_keys SET revoked_at = least(coalesce(revoked_at, now()), now()), etag = etag + 1
                WHERE key_id = \(keyID) RETURNING \(unescaped: Self.columns)
                """, logger: database.logger)
            {
                after = try Self.decode(row)
            }
            record.before = before.auditFields.changed(from: after.auditFields)
            record.after = after.auditFields.changed(from: before.auditFields)
            return after
        }
    }

    /// Replaces a key with a new one holding the same name and roles; the old
    /// one keeps working for `grace` (zero revokes it at once).
    public func roll(
        tenant: TenantID, keyID: String, grace: Duration, grantor: Set<Permission>, audit: AuditContext
    ) async throws -> (APIKeyRecord, APIKeySecret) {
        guard grace >= .zero, grace <= .seconds(30 * 86_400) else {
            throw DomainError.invalid("grace_period", "between 0 and 30 days")
        }
        let secret = APIKeySecret.generate()
        let graceSeconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        return try await database.audited(audit, resource: "tenants/\(tenant)/apiKeys/\(keyID)") { connection, record in
            let old = try await Self.fetch(keyID, tenant: tenant, on: connection, logger: database.logger, lock: true)
            if let revoked = old.revokedAt, revoked <= Date() {
                throw DomainError(.failedPrecondition, "\(old.name) is revoked; create a new key instead")
            }
            try await validateRoles(old.roles, tenant: tenant, grantor: grantor, on: connection)
            let new = try await Self.insert(
                tenant: tenant, displayName: old.displayName, roles: old.roles, expiresAt: old.expiresAt, secret: secret,
                createdBy: audit.actor.name, on: connection, logger: database.logger)
            try await connection.query(
                """
                UPDATE api_keys
                SET revoked_at = least(coalesce(revoked_at, 'infinity'), now() + make_interval(secs => \(graceSeconds))),
                    replaced_by = \(new.name), etag = etag + 1
                WHERE key_id = \(keyID)
                """, logger: database.logger)
            record.before = ["revoke_time": .time(old.revokedAt)]
            record.after = ["replaced_by": .string(new.name), "grace_seconds": .number(graceSeconds)]
            return (new, secret)
        }
    }
}
