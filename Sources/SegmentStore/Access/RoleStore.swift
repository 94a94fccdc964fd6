import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// Roles of a tenant: the built-in ones, then custom roles made from permissions.
public struct RoleStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    static let columns = "tenant_id, role_id, display_name, description, permissions, etag"

    static func decode(_ row: PostgresRow) throws -> RoleRecord {
        let (tenant, role, displayName, description, permissions, etag) =
            try row.decode((String, String, String, String, [String], Int64).self)
        guard let tenantID = TenantID(tenant) else { throw DomainError(.internalError, "stored tenant id is invalid") }
        return RoleRecord(
            tenantID: tenantID, roleID: role, displayName: displayName, description: description,
            permissions: permissions, etag: etag)
    }

    /// Validates a custom role's id and permissions.
    static func validate(roleID: String?, displayName: String?, description: String?, permissions: [String]?, tenant: TenantID) throws {
        if let roleID {
            let valid =
                roleID.count >= 2 && roleID.count <= 40 && roleID.first!.isLowercase && roleID.first!.isASCII
                && roleID.allSatisfy { ($0.isLowercase && $0.isASCII) || $0.isNumber || $0 == "_" }
            guard valid else {
                throw DomainError.invalid("role_id", "2-40 of a-z, 0-9 and '_', starting with a letter")
            }
            guard BuiltInRole.named(roleID, in: tenant) == nil, roleID != BuiltInRole.platformAdmin.id else {
                throw DomainError(.alreadyExists, "'\(roleID)' is a built-in role")
            }
        }
        if let displayName, !(1...100).contains(displayName.count) {
            throw DomainError.invalid("display_name", "1 to 100 characters")
        }
        if let description, description.count > 500 {
            throw DomainError.invalid("description", "at most 500 characters")
        }
        if let permissions {
            guard !permissions.isEmpty else { throw DomainError.invalid("permissions", "a role needs at least one") }
            for permission in permissions {
                guard let known = Permission.named(permission) else {
                    throw DomainError.invalid("permissions", "unknown permission '\(permission)'")
                }
                guard Permission.tenantScoped.contains(known) else {
                    throw DomainError.invalid("permissions", "'\(permission)' is for platform operators only")
                }
            }
        }
    }

    /// Refuses to put a permission into a role that the caller's key lacks, so a
    /// role manager cannot grant itself more than it has.
    static func checkGrantable(_ permissions: [String]?, grantor: Set<Permission>) throws {
        let missing = Set((permissions ?? []).compactMap(Permission.named)).subtracting(grantor)
        guard missing.isEmpty else {
            throw DomainError(
                .permissionDenied,
                "cannot grant \(missing.sorted().map(\.name).joined(separator: ", ")): your key lacks it")
        }
    }

    /// Creates a custom role.
    public func create(
        tenant: TenantID, roleID: String, displayName: String, description: String, permissions: [String],
        grantor: Set<Permission>, audit: AuditContext
    ) async throws -> RoleRecord {
        try Self.validate(roleID: roleID, displayName: displayName, description: description, permissions: permissions, tenant: tenant)
        try Self.checkGrantable(permissions, grantor: grantor)
        let sorted = Array(Set(permissions)).sorted()
        return try await database.audited(audit, resource: "tenants/\(tenant)/roles/\(roleID)") { connection, record in
            do {
                for try await row in try await connection.query(
                    """
                    INSERT INTO roles (tenant_id, role_id, display_name, description, permissions)
                    VALUES (\(tenant.rawValue), \(roleID), \(displayName), \(description), \(sorted))
                    RETURNING \(unescaped: Self.columns)
                    """, logger: database.logger)
                {
                    let role = try Self.decode(row)
                    record.after = role.auditFields
                    return role
                }
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                throw DomainError(.alreadyExists, "tenants/\(tenant)/roles/\(roleID) already exists")
            }
            throw DomainError(.internalError, "role insert returned nothing")
        }
    }

    /// Gets a built-in or custom role.
    public func get(tenant: TenantID, roleID: String) async throws -> RoleRecord {
        if let builtIn = BuiltInRole.named(roleID, in: tenant) { return RoleRecord(builtIn: builtIn, tenant: tenant) }
        return try await database.withTenant(tenant) { connection in
            try await Self.fetch(roleID, tenant: tenant, on: connection, logger: database.logger, lock: false)
        }
    }

    static func fetch(_ roleID: String, tenant: TenantID, on connection: PostgresConnection, logger: Logger, lock: Bool) async throws -> RoleRecord {
        for try await row in try await connection.query(
            "SELECT \(unescaped: columns) FROM roles WHERE role_id = \(roleID) \(unescaped: lock ? "FOR UPDATE" : "")",
            logger: logger)
        {
            return try decode(row)
        }
        throw DomainError(.notFound, "tenants/\(tenant)/roles/\(roleID) not found")
    }

    /// Built-in roles, then custom roles by id.
    public func list(tenant: TenantID, pageSize: Int, pageToken: String?) async throws -> ([RoleRecord], String?) {
        let custom = try await database.withTenant(tenant) { connection -> [RoleRecord] in
            var roles: [RoleRecord] = []
            for try await row in try await connection.query(
                "SELECT \(unescaped: Self.columns) FROM roles ORDER BY role_id", logger: database.logger)
            {
                roles.append(try Self.decode(row))
            }
            return roles
        }
        let all = BuiltInRole.available(in: tenant).map { RoleRecord(builtIn: $0, tenant: tenant) } + custom
        var offset = 0
        if let pageToken {
            guard let parts = PageToken.decode(pageToken), parts.count == 1, let value = Int(parts[0]), value >= 0 else {
                throw DomainError.invalid("page_token", "not a token from this list")
            }
            offset = value
        }
        let page = Array(all.dropFirst(offset).prefix(pageSize))
        let next = offset + page.count < all.count ? PageToken.encode([String(offset + page.count)]) : nil
        return (page, next)
    }

    /// Changes a custom role.
    public func update(
        tenant: TenantID, roleID: String, displayName: String?, description: String?, permissions: [String]?,
        etag: Int64?, grantor: Set<Permission>, audit: AuditContext
    ) async throws -> RoleRecord {
        try Self.checkGrantable(permissions, grantor: grantor)
        guard BuiltInRole.named(roleID, in: tenant) == nil else {
            throw DomainError(.failedPrecondition, "built-in roles cannot be changed; create a custom role")
        }
        try Self.validate(roleID: nil, displayName: displayName, description: description, permissions: permissions, tenant: tenant)
        let sorted = permissions.map { Array(Set($0)).sorted() }
        return try await database.audited(audit, resource: "tenants/\(tenant)/roles/\(roleID)") { connection, record in
            let before = try await Self.fetch(roleID, tenant: tenant, on: connection, logger: database.logger, lock: true)
            if let etag, etag != before.etag {
                throw DomainError(.conflict, "\(before.name) changed since it was read")
            }
            for try await row in try await connection.query(
                """
                UPDATE roles SET display_name = coalesce(\(displayName), display_name),
                                 description = coalesce(\(description), description),
                                 permissions = coalesce(\(sorted)::text[], permissions),
                                 updated_at = now(), etag = etag + 1
                WHERE role_id = \(roleID) RETURNING \(unescaped: Self.columns)
                """, logger: database.logger)
            {
                let after = try Self.decode(row)
                record.before = before.auditFields.changed(from: after.auditFields)
                record.after = after.auditFields.changed(from: before.auditFields)
                return after
            }
            throw DomainError(.internalError, "role update returned nothing")
        }
    }

    /// Deletes a custom role that no working key holds.
    public func delete(tenant: TenantID, roleID: String, etag: Int64?, audit: AuditContext) async throws {
        guard BuiltInRole.named(roleID, in: tenant) == nil else {
            throw DomainError(.failedPrecondition, "built-in roles cannot be deleted")
        }
        try await database.audited(audit, resource: "tenants/\(tenant)/roles/\(roleID)") { connection, record in
            let before = try await Self.fetch(roleID, tenant: tenant, on: connection, logger: database.logger, lock: true)
            if let etag, etag != before.etag {
                throw DomainError(.conflict, "\(before.name) changed since it was read")
            }
            for try await holders in try await connection.query(
                """
                SELECT count(*)::int FROM api_keys
                WHERE \(roleID) = ANY(roles) AND (revoked_at IS NULL OR revoked_at > now())
                """, logger: database.logger
            ).decode(Int.self) where holders > 0 {
                throw DomainError(.failedPrecondition, "\(holders) working key(s) hold \(before.name); revoke them or change their roles first")
            }
            try await connection.query("DELETE FROM roles WHERE role_id = \(roleID)", logger: database.logger)
            record.before = before.auditFields
        }
    }
}
