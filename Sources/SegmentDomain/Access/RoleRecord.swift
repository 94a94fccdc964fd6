import Foundation

/// A role: built in (from code) or custom (stored per tenant).
public struct RoleRecord: Sendable, Equatable {
    public let tenantID: TenantID
    public let roleID: String
    public let displayName: String
    public let description: String
    public let permissions: [String]
    public let builtIn: Bool
    public let etag: Int64

    /// `tenants/{tenant}/roles/{role}`.
    public var name: String { "tenants/\(tenantID)/roles/\(roleID)" }

    package init(builtIn role: BuiltInRole, tenant: TenantID) {
        self.tenantID = tenant
        self.roleID = role.id
        self.displayName = role.displayName
        self.description = role.summary
        self.permissions = role.permissions.sorted().map(\.name)
        self.builtIn = true
        self.etag = 0
    }

    package init(tenantID: TenantID, roleID: String, displayName: String, description: String, permissions: [String], etag: Int64) {
        self.tenantID = tenantID
        self.roleID = roleID
        self.displayName = displayName
        self.description = description
        self.permissions = permissions
        self.builtIn = false
        self.etag = etag
    }

    package var auditFields: AuditFields {
        ["display_name": .string(displayName), "description": .string(description), "permissions": .strings(permissions)]
    }
}
