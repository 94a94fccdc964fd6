import GRPCCore
import SegmentDomain
import SegmentServer
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import SwiftProtobuf
import Testing

@Suite("Cross-tenant probes: another tenant's resources are NOT_FOUND, existing or not", .timeLimit(.minutes(5)))
struct CrossTenantTests {
    /// A request naming `target` (a tenant name like `tenants/other`) for each
    /// implemented method that takes a resource name.
    static func probes(
        target tenant: String, keyID: String, roleID: String, userID: String, tagID: String, segmentID: String, operationID: String
    ) throws -> [(MethodDescriptor, [UInt8])] {
        typealias R = Segmentd_V1_RuleService.Method
        typealias S = Segmentd_V1_SegmentService.Method
        typealias O = Segmentd_V1_OperationService.Method
        typealias M = Segmentd_V1_MembershipService.Method
        let segment = "\(tenant)/segments/\(segmentID)"
        typealias A = Segmentd_V1_AccessService.Method
        typealias T = Segmentd_V1_TenantService.Method
        typealias U = Segmentd_V1_AuditService.Method
        typealias I = Segmentd_V1_IngestionService.Method
        typealias Us = Segmentd_V1_UserService.Method
        typealias Tg = Segmentd_V1_TagService.Method
        typealias C = Segmentd_V1_CatalogService.Method
        typealias Cn = Segmentd_V1_ConnectorService.Method
        typealias P = Segmentd_V1_PredictiveService.Method
        return [
            (T.GetTenant.descriptor, try Segmentd_V1_GetTenantRequest.with { $0.name = tenant }.serializedBytes()),
            (
                A.CreateApiKey.descriptor,
                try Segmentd_V1_CreateApiKeyRequest.with {
                    $0.parent = tenant
                    $0.apiKey.displayName = "x"
                    $0.apiKey.roles = ["viewer"]
                }.serializedBytes()
            ),
            (A.GetApiKey.descriptor, try Segmentd_V1_GetApiKeyRequest.with { $0.name = "\(tenant)/apiKeys/\(keyID)" }.serializedBytes()),
            (A.ListApiKeys.descriptor, try Segmentd_V1_ListApiKeysRequest.with { $0.parent = tenant }.serializedBytes()),
            (A.RevokeApiKey.descriptor, try Segmentd_V1_RevokeApiKeyRequest.with { $0.name = "\(tenant)/apiKeys/\(keyID)" }.serializedBytes()),
            (A.RollApiKey.descriptor, try Segmentd_V1_RollApiKeyRequest.with { $0.name = "\(tenant)/apiKeys/\(keyID)" }.serializedBytes()),
            (
                A.CreateRole.descriptor,
                try Segmentd_V1_CreateRoleRequest.with {
                    $0.parent = tenant
                    $0.roleID = "probe"
                    $0.role.permissions = ["segments.read"]
                }.serializedBytes()
            ),
            (A.GetRole.descriptor, try Segmentd_V1_GetRoleRequest.with { $0.name = "\(tenant)/roles/\(roleID)" }.serializedBytes()),
            (A.ListRoles.descriptor, try Segmentd_V1_ListRolesRequest.with { $0.parent = tenant }.serializedBytes()),
            (
                A.UpdateRole.descriptor,
                try Segmentd_V1_UpdateRoleRequest.with {
                    $0.role.name = "\(tenant)/roles/\(roleID)"
                    $0.role.displayName = "x"
                    $0.updateMask.paths = ["display_name"]
                }.serializedBytes()
            ),
            (A.DeleteRole.descriptor, try Segmentd_V1_DeleteRoleRequest.with { $0.name = "\(tenant)/roles/\(roleID)" }.serializedBytes()),
            (U.ListAuditEvents.descriptor, try Segmentd_V1_ListAuditEventsRequest.with { $0.parent = tenant }.serializedBytes()),
            (U.VerifyAuditChain.descriptor, try Segmentd_V1_VerifyAuditChainRequest.with { $0.parent = tenant }.serializedBytes()),
            (
                I.IngestEvents.descriptor,
                try Segmentd_V1_IngestEventsRequest.with {
                    $0.parent = tenant
                    $0.events = [
                        .with {
                            $0.userID = "probe"
                            $0.name = "probe"
                        }
                    ]
                }.serializedBytes()
            ),
            (
                I.UpsertProfiles.descriptor,
                try Segmentd_V1_UpsertProfilesRequest.with {
                    $0.parent = tenant
                    $0.profiles = [.with { $0.userID = "probe" }]
                }.serializedBytes()
            ),
            (
                I.RecordCampaignResponses.descriptor,
                try Segmentd_V1_RecordCampaignResponsesRequest.with {
                    $0.parent = tenant
                    $0.responses = [
                        .with {
                            $0.userID = "probe"
                            $0.campaignID = "c"
                            $0.kind = .opened
                        }
                    ]
                }.serializedBytes()
            ),
            (
                I.RecordLocations.descriptor,
                try Segmentd_V1_RecordLocationsRequest.with {
                    $0.parent = tenant
                    $0.locations = [.with { $0.userID = "probe" }]
                }.serializedBytes()
            ),
            (Us.GetUser.descriptor, try Segmentd_V1_GetUserRequest.with { $0.name = "\(tenant)/users/\(userID)" }.serializedBytes()),
            (Us.DeleteUser.descriptor, try Segmentd_V1_DeleteUserRequest.with { $0.name = "\(tenant)/users/\(userID)" }.serializedBytes()),
            (
                Tg.CreateTag.descriptor,
                try Segmentd_V1_CreateTagRequest.with {
                    $0.parent = tenant
                    $0.tagID = "probe"
                }.serializedBytes()
            ),
            (Tg.GetTag.descriptor, try Segmentd_V1_GetTagRequest.with { $0.name = "\(tenant)/tags/\(tagID)" }.serializedBytes()),
            (Tg.ListTags.descriptor, try Segmentd_V1_ListTagsRequest.with { $0.parent = tenant }.serializedBytes()),
            (
                Tg.UpdateTag.descriptor,
                try Segmentd_V1_UpdateTagRequest.with {
                    $0.tag.name = "\(tenant)/tags/\(tagID)"
                    $0.updateMask.paths = ["display_name"]
                }.serializedBytes()
            ),
            (
                Tg.RenameTag.descriptor,
                try Segmentd_V1_RenameTagRequest.with {
                    $0.name = "\(tenant)/tags/\(tagID)"
                    $0.newTagID = "probe"
                }.serializedBytes()
            ),
            (Tg.DeleteTag.descriptor, try Segmentd_V1_DeleteTagRequest.with { $0.name = "\(tenant)/tags/\(tagID)" }.serializedBytes()),
            (
                Tg.AssignTags.descriptor,
                try Segmentd_V1_TagAssignmentRequest.with {
                    $0.parent = tenant
                    $0.tags = [tagID]
                    $0.userIds = [userID]
                }.serializedBytes()
            ),
            (
                Tg.UnassignTags.descriptor,
                try Segmentd_V1_TagAssignmentRequest.with {
                    $0.parent = tenant
                    $0.tags = [tagID]
                    $0.userIds = [userID]
                }.serializedBytes()
            ),
            (Tg.ListTagUsers.descriptor, try Segmentd_V1_ListTagUsersRequest.with { $0.name = "\(tenant)/tags/\(tagID)" }.serializedBytes()),
            (C.ListEventTypes.descriptor, try Segmentd_V1_ListCatalogRequest.with { $0.parent = tenant }.serializedBytes()),
            (C.ListAttributes.descriptor, try Segmentd_V1_ListCatalogRequest.with { $0.parent = tenant }.serializedBytes()),
            (C.ListCampaigns.descriptor, try Segmentd_V1_ListCatalogRequest.with { $0.parent = tenant }.serializedBytes()),
            (
                R.CheckRule.descriptor,
                try Segmentd_V1_CheckRuleRequest.with {
                    $0.parent = tenant
                    $0.rule.text = "has tag \(tagID)"
                }.serializedBytes()
            ),
            (
                R.PreviewRule.descriptor,
                try Segmentd_V1_PreviewRuleRequest.with {
                    $0.parent = tenant
                    $0.rule.text = "has tag \(tagID)"
                }.serializedBytes()
            ),
            (
                R.ExplainMembership.descriptor,
                try Segmentd_V1_ExplainMembershipRequest.with {
                    $0.parent = tenant
                    $0.segment = segment
                    $0.userID = userID
                }.serializedBytes()
            ),
            (
                S.CreateSegment.descriptor,
                try Segmentd_V1_CreateSegmentRequest.with {
                    $0.parent = tenant
                    $0.segmentID = "probe"
                    $0.segment.rule.text = "has tag x"
                }.serializedBytes()
            ),
            (S.GetSegment.descriptor, try Segmentd_V1_GetSegmentRequest.with { $0.name = segment }.serializedBytes()),
            (S.ListSegments.descriptor, try Segmentd_V1_ListSegmentsRequest.with { $0.parent = tenant }.serializedBytes()),
            (
                S.UpdateSegment.descriptor,
                try Segmentd_V1_UpdateSegmentRequest.with {
                    $0.segment.name = segment
                    $0.segment.displayName = "x"
                    $0.updateMask.paths = ["display_name"]
                }.serializedBytes()
            ),
            (S.DeleteSegment.descriptor, try Segmentd_V1_DeleteSegmentRequest.with { $0.name = segment }.serializedBytes()),
            (S.UndeleteSegment.descriptor, try Segmentd_V1_UndeleteSegmentRequest.with { $0.name = segment }.serializedBytes()),
            (
                S.DuplicateSegment.descriptor,
                try Segmentd_V1_DuplicateSegmentRequest.with {
                    $0.name = segment
                    $0.newSegmentID = "probe"
                }.serializedBytes()
            ),
            (S.ListSegmentRevisions.descriptor, try Segmentd_V1_ListSegmentRevisionsRequest.with { $0.parent = segment }.serializedBytes()),
            (
                S.GetSegmentRevision.descriptor,
                try Segmentd_V1_GetSegmentRevisionRequest.with { $0.name = segment + "/revisions/1" }.serializedBytes()
            ),
            (
                S.RollbackSegment.descriptor,
                try Segmentd_V1_RollbackSegmentRequest.with {
                    $0.name = segment
                    $0.revision = 1
                }.serializedBytes()
            ),
            (S.RefreshSegment.descriptor, try Segmentd_V1_RefreshSegmentRequest.with { $0.name = segment }.serializedBytes()),
            (S.PauseSegment.descriptor, try Segmentd_V1_SetSegmentStateRequest.with { $0.name = segment }.serializedBytes()),
            (S.ResumeSegment.descriptor, try Segmentd_V1_SetSegmentStateRequest.with { $0.name = segment }.serializedBytes()),
            (S.ListSegmentSizeHistory.descriptor, try Segmentd_V1_ListSegmentSizeHistoryRequest.with { $0.name = segment }.serializedBytes()),
            (S.PinSegment.descriptor, try Segmentd_V1_PinSegmentRequest.with { $0.name = segment }.serializedBytes()),
            (S.UnpinSegment.descriptor, try Segmentd_V1_UnpinSegmentRequest.with { $0.name = segment }.serializedBytes()),
            (S.ListReadyToUseSegments.descriptor, try Segmentd_V1_ListReadyToUseSegmentsRequest.with { $0.parent = tenant }.serializedBytes()),
            (S.InspectSegment.descriptor, try Segmentd_V1_InspectSegmentRequest.with { $0.name = segment }.serializedBytes()),
            (S.ExportSegment.descriptor, try Segmentd_V1_ExportSegmentRequest.with { $0.name = segment }.serializedBytes()),
            (
                M.CheckMembership.descriptor,
                try Segmentd_V1_CheckMembershipRequest.with {
                    $0.parent = tenant
                    $0.userID = userID
                    $0.segments = [segment]
                }.serializedBytes()
            ),
            (
                M.BatchCheckMembership.descriptor,
                try Segmentd_V1_BatchCheckMembershipRequest.with {
                    $0.parent = tenant
                    $0.userIds = [userID]
                    $0.segments = [segment]
                }.serializedBytes()
            ),
            (
                M.ListUserSegments.descriptor,
                try Segmentd_V1_ListUserSegmentsRequest.with {
                    $0.parent = tenant
                    $0.userID = userID
                }.serializedBytes()
            ),
            (
                O.GetOperation.descriptor,
                try Segmentd_V1_GetOperationRequest.with { $0.name = "\(tenant)/operations/\(operationID)" }.serializedBytes()
            ),
            (O.ListOperations.descriptor, try Segmentd_V1_ListOperationsRequest.with { $0.parent = tenant }.serializedBytes()),
            (
                O.CancelOperation.descriptor,
                try Segmentd_V1_CancelOperationRequest.with { $0.name = "\(tenant)/operations/\(operationID)" }.serializedBytes()
            ),
            (
                Cn.AddMembers.descriptor,
                try Segmentd_V1_ChangeMembersRequest.with {
                    $0.segment = segment
                    $0.syncID = "probe"
                    $0.userIds = [userID]
                }.serializedBytes()
            ),
            (
                Cn.RemoveMembers.descriptor,
                try Segmentd_V1_ChangeMembersRequest.with {
                    $0.segment = segment
                    $0.syncID = "probe"
                    $0.userIds = [userID]
                }.serializedBytes()
            ),
            (
                Cn.BeginReplace.descriptor,
                try Segmentd_V1_BeginReplaceRequest.with {
                    $0.segment = segment
                    $0.syncID = "probe"
                }.serializedBytes()
            ),
            (
                Cn.CommitReplace.descriptor,
                try Segmentd_V1_FinishReplaceRequest.with { $0.session = "\(segment)/replaceSessions/1" }.serializedBytes()
            ),
            (Cn.AbortReplace.descriptor, try Segmentd_V1_FinishReplaceRequest.with { $0.session = "\(segment)/replaceSessions/1" }.serializedBytes()),
            (Cn.SyncNow.descriptor, try Segmentd_V1_SyncNowRequest.with { $0.segment = segment }.serializedBytes()),
            (P.TrainModel.descriptor, try Segmentd_V1_TrainModelRequest.with { $0.segment = segment }.serializedBytes()),
            (P.GetModelCard.descriptor, try Segmentd_V1_GetModelCardRequest.with { $0.name = "\(segment)/model" }.serializedBytes()),
        ]
    }

    @Test("tenant A's owner key naming tenant B's keys, roles, audit log or tenant gets NOT_FOUND, the same as for names that do not exist")
    func matrix() async throws {
        try await TestServer.with { server in
            let other = try await server.connect(apiKey: server.platformKey) { connection in
                try await connection.tenants.createTenant(.with { $0.tenantID = "other" }, metadata: connection.metadata)
            }
            let otherKeyID = shortName(other.ownerKey.apiKey.name)
            _ = try await SegmentdConnection.with(server.settings(apiKey: other.ownerKey.secret)) { connection in
                _ = try await connection.tags.createTag(
                    .with {
                        $0.parent = "tenants/other"
                        $0.tagID = "secret_tag"
                    }, metadata: connection.metadata)
                _ = try await connection.tags.assignTags(
                    .with {
                        $0.parent = "tenants/other"
                        $0.tags = ["secret_tag"]
                        $0.userIds = ["secret_user"]
                    }, metadata: connection.metadata)
                _ = try await connection.segments.createSegment(
                    .with {
                        $0.parent = "tenants/other"
                        $0.segmentID = "secret_segment"
                        $0.segment.rule.text = "has tag secret_tag"
                    },
                    metadata: connection.metadata)
                _ = try await connection.segments.refreshSegment(
                    .with { $0.name = "tenants/other/segments/secret_segment" }, metadata: connection.metadata)
                return try await connection.access.createRole(
                    .with {
                        $0.parent = "tenants/other"
                        $0.roleID = "secret_role"
                        $0.role.permissions = ["segments.read"]
                    },
                    metadata: connection.metadata)
            }
            try await server.connect { connection in
                let operationID = try await server.database.scalar("SELECT job_id::text FROM jobs WHERE tenant_id = 'other'", as: String.self)[0]
                let existing = try Self.probes(
                    target: "tenants/other", keyID: otherKeyID, roleID: "secret_role", userID: "secret_user", tagID: "secret_tag",
                    segmentID: "secret_segment", operationID: operationID)
                let missing = try Self.probes(
                    target: "tenants/nobody", keyID: "nokey", roleID: "norole", userID: "nouser", tagID: "notag", segmentID: "nosegment",
                    operationID: "999999")
                for ((method, real), (_, fake)) in zip(existing, missing) {
                    let a = try await RawCall.unary(connection, method, message: real, apiKey: server.ownerKey)
                    let b = try await RawCall.unary(connection, method, message: fake, apiKey: server.ownerKey)
                    #expect(a.code == .notFound, "\(method): \(a)")
                    #expect(b.code == .notFound, "\(method): \(b)")
                    // Same answer apart from the name asked about: nothing reveals that B's resource exists.
                    let normalized = a.message.replacingOccurrences(of: "tenants/other", with: "T")
                        .replacingOccurrences(of: otherKeyID, with: "ID").replacingOccurrences(of: "secret_role", with: "ID")
                        .replacingOccurrences(of: "secret_user", with: "ID").replacingOccurrences(of: "secret_tag", with: "ID")
                        .replacingOccurrences(of: "secret_segment", with: "ID").replacingOccurrences(
                            of: "operations/\(operationID)", with: "operations/ID")
                    let normalizedMissing = b.message.replacingOccurrences(of: "tenants/nobody", with: "T")
                        .replacingOccurrences(of: "nokey", with: "ID").replacingOccurrences(of: "norole", with: "ID")
                        .replacingOccurrences(of: "nouser", with: "ID").replacingOccurrences(of: "notag", with: "ID")
                        .replacingOccurrences(of: "nosegment", with: "ID").replacingOccurrences(of: "operations/999999", with: "operations/ID")
                    #expect(normalized == normalizedMissing, "\(method)")
                }
            }
            // Nothing was changed in B.
            let roles = try await SegmentdConnection.with(server.settings(apiKey: other.ownerKey.secret)) { connection in
                try await connection.access.listRoles(.with { $0.parent = "tenants/other" }, metadata: connection.metadata)
            }
            #expect(roles.roles.map(\.name).filter { $0.hasSuffix("probe") }.isEmpty)
            #expect(
                try await server.database.scalar(
                    "SELECT count(*)::int FROM users WHERE tenant_id = 'other'", as: Int.self) == [1], "no probe created a user in B")
            #expect(
                try await server.database.scalar(
                    "SELECT count(*)::int FROM user_tags WHERE tenant_id = 'other'", as: Int.self) == [1], "B's tag assignment is intact")
            #expect(
                try await server.database.scalar(
                    "SELECT display_name || ' ' || revision || ' ' || state FROM segments WHERE tenant_id = 'other'", as: String.self)
                    == ["secret_segment 1 active"], "B's segment is unchanged")
            #expect(
                try await server.database.scalar(
                    "SELECT count(*)::int FROM jobs WHERE tenant_id = 'other' AND state = 'queued'", as: Int.self) == [1], "B's job is untouched")
        }
    }
}
