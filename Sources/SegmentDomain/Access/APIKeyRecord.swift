import Foundation

/// An API key's metadata. The secret is never stored, only its hash.
public struct APIKeyRecord: Sendable, Equatable {
    public let tenantID: TenantID
    public let keyID: String
    public let displayName: String
    public let displayPrefix: String
    public let roles: [String]
    public let createdAt: Date
    public let createdBy: String
    public let expiresAt: Date?
    public let revokedAt: Date?
    public let lastUsedAt: Date?
    public let replacedBy: String?
    public let etag: Int64

    /// `tenants/{tenant}/apiKeys/{key}`.
    public var name: String { "tenants/\(tenantID)/apiKeys/\(keyID)" }

    package var auditFields: AuditFields {
        [
            "display_name": .string(displayName), "display_prefix": .string(displayPrefix), "roles": .strings(roles),
            "expire_time": .time(expiresAt), "revoke_time": .time(revokedAt),
            "replaced_by": replacedBy.map { .string($0) } ?? .null,
        ]
    }

    package init(
        tenantID: TenantID, keyID: String, displayName: String, displayPrefix: String, roles: [String], createdAt: Date, createdBy: String,
        expiresAt: Date?, revokedAt: Date?, lastUsedAt: Date?, replacedBy: String?, etag: Int64
    ) {
        self.tenantID = tenantID
        self.keyID = keyID
        self.displayName = displayName
        self.displayPrefix = displayPrefix
        self.roles = roles
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
        self.replacedBy = replacedBy
        self.etag = etag
    }
}
