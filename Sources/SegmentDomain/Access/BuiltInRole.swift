/// The roles every tenant has. They cannot be changed or deleted; tenants add
/// custom roles for anything else.
public struct BuiltInRole: Sendable {
    /// The role id, such as `editor`.
    public let id: String
    /// A human-readable name.
    public let displayName: String
    /// What the role is for.
    public let summary: String
    /// What it grants.
    public let permissions: Set<Permission>

    public static let owner = BuiltInRole(
        id: "owner", displayName: "Owner", summary: "Everything in the tenant, including keys and roles.",
        permissions: Permission.tenantScoped)
    public static let admin = BuiltInRole(
        id: "admin", displayName: "Admin", summary: "Everything but defining roles.",
        permissions: Permission.tenantScoped.subtracting([.rolesManage]))
    public static let editor = BuiltInRole(
        id: "editor", displayName: "Editor", summary: "Builds and runs segments, tags, connectors and models.",
        permissions: [
            .segmentsRead, .segmentsWrite, .segmentsRollback, .segmentsRefresh, .segmentsPause, .segmentsExport, .membershipCheck,
            .tagsRead, .tagsWrite, .usersRead, .connectorsManage, .predictiveManage,
        ])
    public static let curator = BuiltInRole(
        id: "curator", displayName: "Curator", summary: "Manages the ready-to-use shelf, and can pause or roll back a broken segment.",
        permissions: [.segmentsRead, .segmentsCurate, .segmentsPause, .segmentsRollback, .membershipCheck, .tagsRead, .usersRead])
    public static let analyst = BuiltInRole(
        id: "analyst", displayName: "Analyst", summary: "Reads, inspects and exports.",
        permissions: [.segmentsRead, .segmentsExport, .membershipCheck, .tagsRead, .usersRead])
    public static let viewer = BuiltInRole(
        id: "viewer", displayName: "Viewer", summary: "Reads segments and tags.",
        permissions: [.segmentsRead, .membershipCheck, .tagsRead])
    public static let integration = BuiltInRole(
        id: "integration", displayName: "Integration", summary: "For services: ingests data and checks membership.",
        permissions: [.dataIngest, .membershipCheck])
    /// Only in the platform tenant. `keys.manage` here reaches only the platform tenant's own
    /// keys (every key method names its tenant), so operators can roll and revoke them.
    public static let platformAdmin = BuiltInRole(
        id: "platform_admin", displayName: "Platform admin",
        summary: "Manages tenants and the platform tenant's keys (platform tenant only).",
        permissions: [.tenantsManage, .keysManage])

    /// The built-in roles of an ordinary tenant, in display order.
    public static let tenantRoles: [BuiltInRole] = [.owner, .admin, .editor, .curator, .analyst, .viewer, .integration]

    /// The built-in roles available in `tenant`.
    public static func available(in tenant: TenantID) -> [BuiltInRole] {
        tenant == .platform ? [.platformAdmin] : tenantRoles
    }

    /// The role `tenant` must keep one working key of. It grants everything a key there can
    /// hold, so its holder can always issue another; without one the tenant may have no key
    /// able to (an admin cannot grant `roles.manage`; only a platform_admin key issues platform keys).
    public static func administrator(of tenant: TenantID) -> BuiltInRole {
        tenant == .platform ? .platformAdmin : .owner
    }

    /// A built-in role of `tenant` by id.
    public static func named(_ id: String, in tenant: TenantID) -> BuiltInRole? {
        available(in: tenant).first { $0.id == id }
    }
}
