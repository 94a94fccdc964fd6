import GRPCCore
import SegmentDomain

/// What a method requires, and whether it changes anything (changes are audited).
///
/// Every method of the contract is listed here, in one place, and enforced in
/// one place (``AccessInterceptor``); a test fails if a registered method is
/// missing. Tenant-scoped permissions are checked against the caller's roles;
/// `tenants.manage` exists only for platform keys.
public struct MethodPolicy: Sendable, Equatable {
    /// Who may call.
    public enum Requirement: Sendable, Equatable {
        /// Anyone, without a key (health checks).
        case none
        /// Any valid key.
        case authenticated
        /// A key whose roles grant this permission.
        case permission(Permission)
    }

    public let requirement: Requirement
    /// True for methods that change state: each call appends an audit entry.
    public let mutates: Bool

    static func read(_ permission: Permission) -> Self { Self(requirement: .permission(permission), mutates: false) }
    static func write(_ permission: Permission) -> Self { Self(requirement: .permission(permission), mutates: true) }
    static let authenticated = Self(requirement: .authenticated, mutates: false)
    static let open = Self(requirement: .none, mutates: false)

    /// The policy of each method, by fully qualified method name.
    public static let byMethod: [String: MethodPolicy] = {
        var table: [String: MethodPolicy] = [:]
        func add(_ service: String, _ entries: [(String, MethodPolicy)]) {
            for (method, policy) in entries { table["\(service)/\(method)"] = policy }
        }
        add("grpc.health.v1.Health", [("Check", .open), ("Watch", .open)])
        add(
            "segmentd.v1.TenantService",
            [
                ("CreateTenant", .write(.tenantsManage)), ("GetTenant", .authenticated),
                ("ListTenants", .read(.tenantsManage)), ("UpdateTenant", .write(.tenantsManage)),
                ("DisableTenant", .write(.tenantsManage)), ("EnableTenant", .write(.tenantsManage)),
            ])
        add(
            "segmentd.v1.AccessService",
            [
                ("GetCallerIdentity", .authenticated), ("ListPermissions", .authenticated),
                ("CreateApiKey", .write(.keysManage)), ("GetApiKey", .read(.keysManage)), ("ListApiKeys", .read(.keysManage)),
                ("RevokeApiKey", .write(.keysManage)), ("RollApiKey", .write(.keysManage)),
                ("CreateRole", .write(.rolesManage)), ("GetRole", .authenticated), ("ListRoles", .authenticated),
                ("UpdateRole", .write(.rolesManage)), ("DeleteRole", .write(.rolesManage)),
            ])
        add("segmentd.v1.AuditService", [("ListAuditEvents", .read(.auditRead)), ("VerifyAuditChain", .read(.auditRead))])
        add(
            "segmentd.v1.IngestionService",
            [
                ("UpsertProfiles", .write(.dataIngest)), ("IngestEvents", .write(.dataIngest)),
                ("RecordCampaignResponses", .write(.dataIngest)), ("RecordLocations", .write(.dataIngest)),
                ("StreamIngest", .write(.dataIngest)),
            ])
        add("segmentd.v1.UserService", [("GetUser", .read(.usersRead)), ("DeleteUser", .write(.dataIngest))])
        add(
            "segmentd.v1.TagService",
            [
                ("CreateTag", .write(.tagsWrite)), ("GetTag", .read(.tagsRead)), ("ListTags", .read(.tagsRead)),
                ("UpdateTag", .write(.tagsWrite)), ("RenameTag", .write(.tagsWrite)), ("DeleteTag", .write(.tagsWrite)),
                ("AssignTags", .write(.tagsWrite)), ("UnassignTags", .write(.tagsWrite)), ("ListTagUsers", .read(.tagsRead)),
            ])
        add(
            "segmentd.v1.CatalogService",
            [
                ("ListEventTypes", .read(.usersRead)), ("ListAttributes", .read(.usersRead)), ("ListCampaigns", .read(.usersRead)),
            ])
        add(
            "segmentd.v1.RuleService",
            [
                ("CheckRule", .read(.segmentsRead)), ("PreviewRule", .read(.segmentsRead)),
                ("ExplainMembership", .read(.usersRead)),
            ])
        add(
            "segmentd.v1.SegmentService",
            [
                ("CreateSegment", .write(.segmentsWrite)), ("GetSegment", .read(.segmentsRead)),
                ("ListSegments", .read(.segmentsRead)), ("UpdateSegment", .write(.segmentsWrite)),
                ("DeleteSegment", .write(.segmentsWrite)), ("UndeleteSegment", .write(.segmentsWrite)),
                ("DuplicateSegment", .write(.segmentsWrite)), ("ListSegmentRevisions", .read(.segmentsRead)),
                ("GetSegmentRevision", .read(.segmentsRead)), ("RollbackSegment", .write(.segmentsRollback)),
                ("RefreshSegment", .write(.segmentsRefresh)), ("BatchRefreshSegments", .write(.segmentsRefresh)),
                ("PauseSegment", .write(.segmentsPause)),
                ("ResumeSegment", .write(.segmentsPause)), ("ListSegmentSizeHistory", .read(.segmentsRead)),
                ("PinSegment", .write(.segmentsCurate)), ("UnpinSegment", .write(.segmentsCurate)),
                ("ListReadyToUseSegments", .read(.segmentsRead)), ("InspectSegment", .read(.segmentsRead)),
                ("ExportSegment", .write(.segmentsExport)), ("DownloadExport", .read(.segmentsExport)),
            ])
        add(
            "segmentd.v1.OperationService",
            [
                ("GetOperation", .read(.segmentsRead)), ("ListOperations", .read(.segmentsRead)),
                ("CancelOperation", .write(.segmentsRefresh)), ("WaitOperation", .read(.segmentsRead)),
            ])
        add(
            "segmentd.v1.MembershipService",
            [
                ("CheckMembership", .read(.membershipCheck)), ("BatchCheckMembership", .read(.membershipCheck)),
                ("ListUserSegments", .read(.usersRead)), ("StreamSegmentMembers", .read(.membershipCheck)),
                ("WatchSegmentChanges", .read(.segmentsRead)),
            ])
        add(
            "segmentd.v1.ConnectorService",
            [
                ("AddMembers", .write(.connectorsManage)), ("RemoveMembers", .write(.connectorsManage)),
                ("BeginReplace", .write(.connectorsManage)), ("StreamReplaceChunks", .write(.connectorsManage)),
                ("CommitReplace", .write(.connectorsManage)), ("AbortReplace", .write(.connectorsManage)),
                ("ImportMembers", .write(.connectorsManage)), ("SyncNow", .write(.connectorsManage)),
            ])
        add(
            "segmentd.v1.PredictiveService",
            [
                ("TrainModel", .write(.predictiveManage)), ("GetModelCard", .read(.segmentsRead)),
            ])
        return table
    }()

    /// The policy for `method`; nil for a method nobody mapped (refused as a bug).
    public static func of(_ method: MethodDescriptor) -> MethodPolicy? {
        byMethod[method.fullyQualifiedMethod]
    }
}
