import Logging
import NIOCore
import PostgresNIO
import SegmentDomain

/// Creates the first tenant, its owner key and a platform-operator key, once per
/// installation.
///
/// Race-safe across replicas: the insert into `installation` is the lock. The
/// first process to commit it bootstraps; the others find the row and do nothing.
public struct Bootstrapper: Sendable {
    /// What a first start created. The secrets exist only here: save them now.
    public struct Credentials: Sendable {
        /// The first tenant.
        public let tenantID: TenantID
        /// The first tenant's owner key.
        public let ownerKey: APIKeySecret
        /// The platform operator's key (tenant management).
        public let platformKey: APIKeySecret
    }

    let database: Database
    let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Bootstraps if nobody has; returns the new credentials, or nil when already done.
    public func bootstrapIfNeeded(tenantID: TenantID, displayName: String) async throws -> Credentials? {
        let ownerKey = APIKeySecret.generate()
        let platformKey = APIKeySecret.generate()
        let created = try await database.withTransaction { connection -> Bool in
            let rows = try await connection.query(
                "INSERT INTO installation (id) VALUES (1) ON CONFLICT DO NOTHING RETURNING id", logger: logger)
            var inserted = false
            for try await _ in rows { inserted = true }
            guard inserted else { return false }

            try await Self.createTenant(
                TenantID.platform, displayName: "Platform operators", isPlatform: true,
                key: platformKey, keyName: "platform-admin", roles: ["platform_admin"], on: connection, logger: logger)
            try await Self.createTenant(
                tenantID, displayName: displayName, isPlatform: false,
                key: ownerKey, keyName: "owner", roles: ["owner"], on: connection, logger: logger)
            return true
        }
        guard created else { return nil }
        logger.notice("bootstrapped the installation", metadata: ["tenant": "\(tenantID)"])
        return Credentials(tenantID: tenantID, ownerKey: ownerKey, platformKey: platformKey)
    }

    private static func createTenant(
        _ tenantID: TenantID, displayName: String, isPlatform: Bool, key: APIKeySecret, keyName: String,
        roles: [String], on connection: PostgresConnection, logger: Logger
    ) async throws {
        try await connection.query("SELECT set_config('app.tenant_id', \(tenantID.rawValue), true)", logger: logger)
        try await connection.query(
            """
            INSERT INTO tenants (tenant_id, display_name, is_platform)
            VALUES (\(tenantID.rawValue), \(displayName), \(isPlatform))
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO api_keys (tenant_id, key_id, display_name, display_prefix, key_hash, roles, created_by)
            VALUES (\(tenantID.rawValue), \(ResourceID.random()), \(keyName), \(key.displayPrefix), \(ByteBuffer(bytes: key.hash)),
                    \(roles), 'system:bootstrap')
            """, logger: logger)
        try await AuditLog.append(
            AuditEntry(
                actor: .system, action: "bootstrap", resource: "tenants/\(tenantID)", result: "OK",
                after: ["display_name": .string(displayName), "key_roles": .strings(roles)]),
            tenant: tenantID, on: connection, logger: logger)
    }
}
