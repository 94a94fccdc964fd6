import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI

/// `segmentd.v1.TagService`: static labels and their users.
struct TagService: Segmentd_V1_TagService.SimpleServiceProtocol {
    let tags: Tagging

    func createTag(request: Segmentd_V1_CreateTagRequest, context: ServerContext) async throws -> Segmentd_V1_Tag {
        let call = try RequestContext.require()
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: call.principal)
        return Self.proto(
            try await tags.create(
                tenant: tenant, tagID: request.tagID, displayName: request.tag.displayName,
                description: request.tag.description_p, audit: call.audit()))
    }

    func getTag(request: Segmentd_V1_GetTagRequest, context: ServerContext) async throws -> Segmentd_V1_Tag {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try ResourceName.child(request.name, collection: "tags", field: "name", for: principal)
        return Self.proto(try await tags.get(tenant: tenant, tagID: id))
    }

    func listTags(request: Segmentd_V1_ListTagsRequest, context: ServerContext) async throws -> Segmentd_V1_ListTagsResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 100, maximum: 1000)
        let (tags, next) = try await tags.list(tenant: tenant, pageSize: size, pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
        return .with {
            $0.tags = tags.map(Self.proto)
            $0.nextPageToken = next ?? ""
        }
    }

    func updateTag(request: Segmentd_V1_UpdateTagRequest, context: ServerContext) async throws -> Segmentd_V1_Tag {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.tag.name, collection: "tags", field: "tag.name", for: call.principal)
        let paths = try ResourceName.updatePaths(request.updateMask.paths, allowed: ["display_name", "description"])
        return Self.proto(
            try await tags.update(
                tenant: tenant, tagID: id, displayName: paths.contains("display_name") ? request.tag.displayName : nil,
                description: paths.contains("description") ? request.tag.description_p : nil,
                etag: try ResourceName.etag(request.tag.etag, field: "tag.etag"), audit: call.audit()))
    }

    func renameTag(request: Segmentd_V1_RenameTagRequest, context: ServerContext) async throws -> Segmentd_V1_Tag {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "tags", field: "name", for: call.principal)
        return Self.proto(try await tags.rename(tenant: tenant, tagID: id, newTagID: request.newTagID, audit: call.audit()))
    }

    func deleteTag(request: Segmentd_V1_DeleteTagRequest, context: ServerContext) async throws -> Segmentd_V1_Empty {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "tags", field: "name", for: call.principal)
        try await tags.delete(tenant: tenant, tagID: id, etag: try ResourceName.etag(request.etag), audit: call.audit())
        return .init()
    }

    func assignTags(request: Segmentd_V1_TagAssignmentRequest, context: ServerContext) async throws -> Segmentd_V1_TagAssignmentResponse {
        try await assignment(request, remove: false)
    }

    func unassignTags(request: Segmentd_V1_TagAssignmentRequest, context: ServerContext) async throws -> Segmentd_V1_TagAssignmentResponse {
        try await assignment(request, remove: true)
    }

    private func assignment(_ request: Segmentd_V1_TagAssignmentRequest, remove: Bool) async throws -> Segmentd_V1_TagAssignmentResponse {
        let call = try RequestContext.require()
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: call.principal)
        let (changed, unchanged) = try await tags.assign(
            tenant: tenant, tagIDs: request.tags, userIDs: request.userIds, remove: remove, audit: call.audit())
        return .with {
            $0.changed = Int64(changed)
            $0.unchanged = Int64(unchanged)
        }
    }

    func listTagUsers(request: Segmentd_V1_ListTagUsersRequest, context: ServerContext) async throws -> Segmentd_V1_ListTagUsersResponse {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try ResourceName.child(request.name, collection: "tags", field: "name", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 1000, maximum: 10_000)
        let (users, next) = try await tags.users(
            tenant: tenant, tagID: id, pageSize: size, pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
        return .with {
            $0.userIds = users
            $0.nextPageToken = next ?? ""
        }
    }
}
