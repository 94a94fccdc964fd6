import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// Tenants, managed by platform operators. Reads and writes across tenants run
/// in the platform context, which the tenants table's policy (and no other
/// table's) opens to every row.
public struct TenantStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    static let columns = "tenant_id, display_name, state, time_zone, is_platform, created_at, updated_at, etag"

    static func decode(_ row: PostgresRow) throws -> TenantRecord {
        let (id, displayName, state, timeZone, isPlatform, created, updated, etag) =
            try row.decode((String, String, String, String, Bool, Date, Date, Int64).self)
        guard let tenantID = TenantID(id) else { throw DomainError(.internalError, "stored tenant id is invalid") }
        return TenantRecord(
            id: tenantID, displayName: displayName, state: state, timeZone: timeZone, isPlatform: isPlatform,
            createdAt: created, updatedAt: updated, etag: etag)
    }

    /// Validates a display name: 1-100 characters.
    public static func validateDisplayName(_ name: String) throws {
        guard (1...100).contains(name.count) else {
            throw DomainError.invalid("display_name", "1 to 100 characters")
        }
    }

    /// Validates an IANA time zone name.
    public static func validateTimeZone(_ zone: String) throws {
        guard TimeZone(identifier: zone) != nil else {
            throw DomainError(.invalidArgument, "time_zone '\(zone)' is not an IANA time zone (such as Europe/Istanbul)")
        }
    }

    /// Creates a tenant and its first owner key, audited in the platform chain.
    public func create(
        id: TenantID, displayName: String, timeZone: String, audit: AuditContext
    ) async throws -> (TenantRecord, APIKeyRecord, APIKeySecret) {
        guard id != .platform else { throw DomainError(.invalidArgument, "the tenant id 'platform' is reserved") }
        try Self.validateDisplayName(displayName)
        try Self.validateTimeZone(timeZone)
        let secret = APIKeySecret.generate()
        return try await database.audited(audit, resource: "tenants/\(id)") { connection, record in
            var tenant: TenantRecord?
            do {
                for try await row in try await connection.query(
                    """
                    INSERT INTO tenants (tenant_id, display_name, time_zone) VALUES (\(id.rawValue), \(displayName), \(timeZone))
                    RETURNING \(unescaped: Self.columns)
                    """, logger: database.logger)
                {
                    tenant = try Self.decode(row)
                }
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                throw DomainError(.alreadyExists, "tenants/\(id) already exists")
            }
            guard let tenant else { throw DomainError(.internalError, "tenant insert returned nothing") }
            // The key belongs to the new tenant: write it in that tenant's context, then return.
            try await connection.query("SELECT set_config('app.tenant_id', \(id.rawValue), true)", logger: database.logger)
            let key = try await APIKeyStore.insert(
                tenant: id, displayName: "owner", roles: ["owner"], expiresAt: nil, secret: secret,
                createdBy: audit.actor.name, on: connection, logger: database.logger)
            try await connection.query(
                "SELECT set_config('app.tenant_id', \(audit.tenant.rawValue), true)", logger: database.logger)
            record.after = tenant.auditFields.merging(["owner_key": .string(key.name)]) { $1 }
            return (tenant, key, secret)
        }
    }

    /// Gets a tenant (visible in its own context, or the platform context).
    public func get(_ id: TenantID, context: TenantID) async throws -> TenantRecord {
        try await database.withTenant(context) { connection in
            for try await row in try await connection.query(
                "SELECT \(unescaped: Self.columns) FROM tenants WHERE tenant_id = \(id.rawValue)", logger: database.logger)
            {
                return try Self.decode(row)
            }
            throw DomainError(.notFound, "tenants/\(id) not found")
        }
    }

    /// Lists tenants by id (platform context), without the platform tenant itself.
    public func list(showDisabled: Bool, pageSize: Int, pageToken: String?) async throws -> ([TenantRecord], String?) {
        let after = try pageToken.map { token -> String in
            guard let parts = PageToken.decode(token), parts.count == 1 else { throw DomainError.invalid("page_token", "not a token from this list") }
            return parts[0]
        }
        let rows = try await database.withTenant(.platform) { connection -> [TenantRecord] in
            var tenants: [TenantRecord] = []
            for try await row in try await connection.query(
                """
                SELECT \(unescaped: Self.columns) FROM tenants
                WHERE NOT is_platform AND (\(showDisabled) OR state = 'active')
                  AND (\(after)::text IS NULL OR tenant_id > \(after))
                ORDER BY tenant_id LIMIT \(pageSize + 1)
                """, logger: database.logger)
            {
                tenants.append(try Self.decode(row))
            }
            return tenants
        }
        let (page, next) = rows.paged(pageSize: pageSize) { PageToken.encode([$0.id.rawValue]) }
        return (page, next)
    }

    /// Changes display name and/or time zone; a stale etag is a conflict.
    public func update(
        _ id: TenantID, displayName: String?, timeZone: String?, etag: Int64?, audit: AuditContext
    ) async throws -> TenantRecord {
        if let displayName { try Self.validateDisplayName(displayName) }
        if let timeZone { try Self.validateTimeZone(timeZone) }
        return try await change(id, etag: etag, audit: audit) { connection in
            try await connection.query(
                """
                UPDATE tenants SET display_name = coalesce(\(displayName), display_name),
                                   time_zone = coalesce(\(timeZone), time_zone),
                                   updated_at = now(), etag = etag + 1
                WHERE tenant_id = \(id.rawValue)
                RETURNING \(unescaped: Self.columns)
                """, logger: database.logger)
        }
    }

    /// Disables or enables a tenant.
    public func setState(_ id: TenantID, active: Bool, etag: Int64?, audit: AuditContext) async throws -> TenantRecord {
        guard id != .platform else { throw DomainError(.failedPrecondition, "the platform tenant cannot be disabled") }
        let state = active ? "active" : "disabled"
        return try await change(id, etag: etag, audit: audit) { connection in
            try await connection.query(
                """
                UPDATE tenants SET state = \(state), updated_at = now(), etag = etag + 1
                WHERE tenant_id = \(id.rawValue)
                RETURNING \(unescaped: Self.columns)
                """, logger: database.logger)
        }
    }

    private func change(
        _ id: TenantID, etag: Int64?, audit: AuditContext,
        _ update: @Sendable (PostgresConnection) async throws -> PostgresRowSequence
    ) async throws -> TenantRecord {
        try await database.audited(audit, resource: "tenants/\(id)") { connection, record in
            var before: TenantRecord?
            for try await row in try await connection.query(
                "SELECT \(unescaped: Self.columns) FROM tenants WHERE tenant_id = \(id.rawValue) AND NOT is_platform FOR UPDATE",
                logger: database.logger)
            {
                before = try Self.decode(row)
            }
            guard let before else { throw DomainError(.notFound, "tenants/\(id) not found") }
            if let etag, etag != before.etag {
                throw DomainError(.conflict, "tenants/\(id) changed since it was read (etag \(etag), now \(before.etag))")
            }
            var after: TenantRecord?
            for try await row in try await update(connection) { after = try Self.decode(row) }
            guard let after else { throw DomainError(.internalError, "tenant update returned nothing") }
            record.before = before.auditFields.changed(from: after.auditFields)
            record.after = after.auditFields.changed(from: before.auditFields)
            return after
        }
    }
}
