/// A named permission. Every RPC requires exactly one (or only authentication);
/// roles are sets of them.
public struct Permission: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The name, such as `segments.read`.
    public let name: String
    /// What it allows, for `ListPermissions` and the README.
    public let summary: String

    package init(_ name: String, _ summary: String) {
        self.name = name
        self.summary = summary
    }

    public var description: String { name }
    public static func < (lhs: Permission, rhs: Permission) -> Bool { lhs.name < rhs.name }
    public static func == (lhs: Permission, rhs: Permission) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    public static let segmentsRead = Permission("segments.read", "Read segments, rules, operations, size history; preview and explain rules.")
    public static let segmentsWrite = Permission("segments.write", "Create, update, delete and duplicate segments.")
    public static let segmentsRollback = Permission(
        "segments.rollback", "Roll a segment back to an earlier revision (to pull a broken shared segment).")
    public static let segmentsRefresh = Permission("segments.refresh", "Refresh segments and cancel their operations.")
    public static let segmentsPause = Permission("segments.pause", "Pause and resume segments.")
    public static let segmentsExport = Permission("segments.export", "Export segments and download exports.")
    public static let segmentsCurate = Permission("segments.curate", "Pin and unpin ready-to-use segments.")
    public static let membershipCheck = Permission("membership.check", "Ask whether users are in segments, and stream members.")
    public static let tagsRead = Permission("tags.read", "Read tags and their users.")
    public static let tagsWrite = Permission("tags.write", "Create, rename and delete tags; assign and unassign them.")
    public static let dataIngest = Permission("data.ingest", "Send profiles, events, responses, locations; delete users.")
    public static let usersRead = Permission("users.read", "Read users, the catalog, and users' segments.")
    public static let keysManage = Permission("keys.manage", "Create, list, revoke and roll API keys.")
    public static let rolesManage = Permission("roles.manage", "Create, update and delete custom roles.")
    public static let auditRead = Permission("audit.read", "Read and verify the audit log.")
    public static let connectorsManage = Permission("connectors.manage", "Push, import and sync connector segments.")
    public static let predictiveManage = Permission("predictive.manage", "Train predictive models.")
    public static let tenantsManage = Permission("tenants.manage", "Platform operators: create, rename, disable tenants.")

    /// Every permission, sorted by name.
    public static let all: [Permission] = [
        .segmentsRead, .segmentsWrite, .segmentsRollback, .segmentsRefresh, .segmentsPause, .segmentsExport, .segmentsCurate,
        .membershipCheck, .tagsRead, .tagsWrite, .dataIngest, .usersRead, .keysManage, .rolesManage, .auditRead,
        .connectorsManage, .predictiveManage, .tenantsManage,
    ].sorted()

    /// Looks a permission up by name.
    public static func named(_ name: String) -> Permission? { all.first { $0.name == name } }

    /// Permissions a tenant's own roles may hold (everything but platform management).
    public static let tenantScoped: Set<Permission> = Set(all).subtracting([.tenantsManage])
}
