/// Who is calling: an authenticated API key of a tenant, with its roles.
public struct Principal: Sendable, Equatable {
    /// The key's tenant.
    public let tenantID: TenantID
    /// The key's id.
    public let keyID: String
    /// The key's human-readable name.
    public let keyDisplayName: String
    /// The key's display prefix (never the secret).
    public let keyDisplayPrefix: String
    /// Role ids the key holds.
    public let roles: [String]
    /// True for keys of the platform tenant (operators).
    public let isPlatform: Bool
    /// What the roles grant together.
    public let permissions: Set<Permission>

    public init(
        tenantID: TenantID, keyID: String, keyDisplayName: String, keyDisplayPrefix: String, roles: [String],
        isPlatform: Bool, permissions: Set<Permission>
    ) {
        self.permissions = permissions
        self.tenantID = tenantID
        self.keyID = keyID
        self.keyDisplayName = keyDisplayName
        self.keyDisplayPrefix = keyDisplayPrefix
        self.roles = roles
        self.isPlatform = isPlatform
    }

    /// Whether the key's roles grant `permission`.
    public func has(_ permission: Permission) -> Bool { permissions.contains(permission) }

    /// `tenants/{tenant}/apiKeys/{key}`.
    public var keyName: String { "tenants/\(tenantID)/apiKeys/\(keyID)" }
}

/// Why a key was not accepted. Clients see one message for all of them.
public enum AuthenticationFailure: Error, Sendable, Equatable {
    /// No key was sent.
    case missing
    /// The key's shape or checksum is wrong (rejected without a lookup).
    case malformed
    /// No such key.
    case unknown
    /// Revoked.
    case revoked
    /// Expired.
    case expired
    /// The key's tenant is disabled.
    case tenantDisabled
}
