import GRPCCore
import SegmentDomain
import SegmentServer
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("Roles and permissions: one policy per method, enforced in one place", .timeLimit(.minutes(5)))
struct AccessControlTests {
    @Test("every method the server registers has an access policy, and every policy names a registered method")
    func everyMethodIsMapped() async throws {
        try await TestServer.with { server in
            let registered = Set(server.server.registeredMethods.map(\.fullyQualifiedMethod))
            #expect(registered.count == Contract.allMethods.count)
            let unmapped = registered.subtracting(MethodPolicy.byMethod.keys)
            #expect(unmapped.isEmpty, "methods without a policy: \(unmapped.sorted())")
            let stale = Set(MethodPolicy.byMethod.keys).subtracting(registered)
            #expect(stale.isEmpty, "policies for methods that do not exist: \(stale.sorted())")
            // Only health checks are open.
            let open = MethodPolicy.byMethod.filter { $0.value.requirement == .none }.keys.sorted()
            #expect(open == ["grpc.health.v1.Health/Check", "grpc.health.v1.Health/Watch"])
        }
    }

    /// One unary method per permission: allowed calls get past the access check
    /// (whatever they answer next), denied ones get PERMISSION_DENIED naming it.
    static let representative: [(Permission, MethodDescriptor)] = [
        (.segmentsRead, Segmentd_V1_SegmentService.Method.ListSegments.descriptor),
        (.segmentsWrite, Segmentd_V1_SegmentService.Method.CreateSegment.descriptor),
        (.segmentsRollback, Segmentd_V1_SegmentService.Method.RollbackSegment.descriptor),
        (.segmentsRefresh, Segmentd_V1_SegmentService.Method.RefreshSegment.descriptor),
        (.segmentsPause, Segmentd_V1_SegmentService.Method.PauseSegment.descriptor),
        (.segmentsExport, Segmentd_V1_SegmentService.Method.ExportSegment.descriptor),
        (.segmentsCurate, Segmentd_V1_SegmentService.Method.PinSegment.descriptor),
        (.membershipCheck, Segmentd_V1_MembershipService.Method.CheckMembership.descriptor),
        (.tagsRead, Segmentd_V1_TagService.Method.ListTags.descriptor),
        (.tagsWrite, Segmentd_V1_TagService.Method.CreateTag.descriptor),
        (.dataIngest, Segmentd_V1_IngestionService.Method.IngestEvents.descriptor),
        (.usersRead, Segmentd_V1_UserService.Method.GetUser.descriptor),
        (.keysManage, Segmentd_V1_AccessService.Method.ListApiKeys.descriptor),
        (.rolesManage, Segmentd_V1_AccessService.Method.DeleteRole.descriptor),
        (.auditRead, Segmentd_V1_AuditService.Method.VerifyAuditChain.descriptor),
        (.connectorsManage, Segmentd_V1_ConnectorService.Method.AddMembers.descriptor),
        (.predictiveManage, Segmentd_V1_PredictiveService.Method.TrainModel.descriptor),
        (.tenantsManage, Segmentd_V1_TenantService.Method.ListTenants.descriptor),
    ]

    @Test("each built-in role is allowed exactly its permissions, checked with one RPC per permission")
    func builtInRoleMatrix() async throws {
        #expect(Set(Self.representative.map(\.0)) == Set(Permission.all))
        try await TestServer.with { server in
            for role in BuiltInRole.tenantRoles {
                let key = try await server.createKey(roles: [role.id], name: role.id)
                try await server.connect(apiKey: key) { connection in
                    for (permission, method) in Self.representative {
                        let outcome = try await RawCall.unary(connection, method, apiKey: key)
                        let allowed = role.permissions.contains(permission)
                        if allowed {
                            #expect(outcome.code != .permissionDenied, "\(role.id) should be allowed \(permission): \(outcome)")
                            #expect(outcome.code != .unauthenticated)
                        } else {
                            #expect(outcome.code == .permissionDenied, "\(role.id) should be denied \(permission): \(outcome)")
                            #expect(outcome.reason == "PERMISSION_MISSING")
                            #expect(outcome.metadata["permission"] == permission.name)
                        }
                    }
                }
            }
        }
    }

    @Test("a platform key manages tenants and the platform's own keys, and nothing inside tenants")
    func platformKey() async throws {
        try await TestServer.with { server in
            try await server.connect(apiKey: server.platformKey) { connection in
                for (permission, method) in Self.representative {
                    let outcome = try await RawCall.unary(connection, method, apiKey: server.platformKey)
                    switch permission {
                    case .tenantsManage:
                        #expect(outcome.code == nil, "\(outcome)")
                    case .keysManage:
                        // Allowed past the access check; the empty parent is then refused (APIKeyTests has the rest).
                        #expect(outcome.code == .invalidArgument, "\(outcome)")
                    default:
                        #expect(outcome.code == .permissionDenied, "\(permission): \(outcome)")
                    }
                }
            }
        }
    }

    @Test("a custom role grants its permissions; a key may not grant more than it has; roles in use cannot be deleted")
    func customRoles() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                let role = try await connection.access.createRole(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.roleID = "auditor"
                        $0.role.permissions = ["audit.read", "segments.read"]
                    }, metadata: connection.metadata)
                #expect(role.name == "tenants/acme/roles/auditor")
                #expect(!role.builtIn)
                let unknownPermission = try await RawCall.unary(
                    connection, Segmentd_V1_AccessService.Method.CreateRole.descriptor,
                    message: try Segmentd_V1_CreateRoleRequest.with {
                        $0.parent = "tenants/acme"
                        $0.roleID = "bad"
                        $0.role.permissions = ["segments.fly"]
                    }.serializedBytes(), apiKey: server.ownerKey)
                #expect(unknownPermission.code == .invalidArgument)
                #expect(unknownPermission.message.contains("segments.fly"))
            }
            let auditor = try await server.createKey(roles: ["auditor"])
            try await server.connect(apiKey: auditor) { connection in
                let identity = try await connection.access.getCallerIdentity(.init(), metadata: connection.metadata)
                #expect(identity.permissions == ["audit.read", "segments.read"])
                let verify = try await RawCall.unary(
                    connection, Segmentd_V1_AuditService.Method.VerifyAuditChain.descriptor,
                    message: try Segmentd_V1_VerifyAuditChainRequest.with { $0.parent = "tenants/acme" }.serializedBytes(), apiKey: auditor)
                #expect(verify.code == nil)
                let keys = try await RawCall.unary(connection, Segmentd_V1_AccessService.Method.ListApiKeys.descriptor, apiKey: auditor)
                #expect(keys.code == .permissionDenied)
            }
            // An admin (no roles.manage, but keys.manage) cannot mint an owner key.
            let admin = try await server.createKey(roles: ["admin"])
            try await server.connect(apiKey: admin) { connection in
                let owner = try await RawCall.unary(
                    connection, Segmentd_V1_AccessService.Method.CreateApiKey.descriptor,
                    message: try Segmentd_V1_CreateApiKeyRequest.with {
                        $0.parent = "tenants/acme"
                        $0.apiKey.displayName = "escalate"
                        $0.apiKey.roles = ["owner"]
                    }.serializedBytes(), apiKey: admin)
                #expect(owner.code == .permissionDenied)
                #expect(owner.message.contains("roles.manage"))
                let editor = try await connection.access.createApiKey(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.apiKey.displayName = "ok"
                        $0.apiKey.roles = ["editor"]
                    }, metadata: connection.metadata)
                #expect(editor.apiKey.roles == ["editor"])
            }
            try await server.connect { connection in
                let inUse = try await RawCall.unary(
                    connection, Segmentd_V1_AccessService.Method.DeleteRole.descriptor,
                    message: try Segmentd_V1_DeleteRoleRequest.with { $0.name = "tenants/acme/roles/auditor" }.serializedBytes(),
                    apiKey: server.ownerKey)
                #expect(inUse.code == .failedPrecondition)
                let builtIn = try await RawCall.unary(
                    connection, Segmentd_V1_AccessService.Method.DeleteRole.descriptor,
                    message: try Segmentd_V1_DeleteRoleRequest.with { $0.name = "tenants/acme/roles/viewer" }.serializedBytes(),
                    apiKey: server.ownerKey)
                #expect(builtIn.code == .failedPrecondition)
                let updated = try await connection.access.updateRole(
                    .with {
                        $0.role.name = "tenants/acme/roles/auditor"
                        $0.role.permissions = ["audit.read"]
                        $0.updateMask.paths = ["permissions"]
                    }, metadata: connection.metadata)
                #expect(updated.permissions == ["audit.read"])
                let stale = try await RawCall.unary(
                    connection, Segmentd_V1_AccessService.Method.UpdateRole.descriptor,
                    message: try Segmentd_V1_UpdateRoleRequest.with {
                        $0.role.name = "tenants/acme/roles/auditor"
                        $0.role.displayName = "x"
                        $0.role.etag = "1"
                        $0.updateMask.paths = ["display_name"]
                    }.serializedBytes(), apiKey: server.ownerKey)
                #expect(stale.code == .aborted)
                let roles = try await connection.access.listRoles(.with { $0.parent = "tenants/acme" }, metadata: connection.metadata)
                #expect(roles.roles.map { shortName($0.name) } == BuiltInRole.tenantRoles.map(\.id) + ["auditor"])
            }
        }
    }
}

func shortName(_ name: String) -> String { String(name.split(separator: "/").last ?? "") }
