import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI

/// `segmentd.v1.MembershipService`: who is in a segment, for campaigns
/// (targeting), journeys (audience) and analytics (filters).
struct MembershipService: Segmentd_V1_MembershipService.SimpleServiceProtocol {
    let membership: MembershipQueries
    let changes: ChangeWatch

    /// Segment ids from names of the caller's tenant.
    static func segmentIDs(_ names: [String], field: String, tenant: TenantID, principal: Principal) throws -> [String] {
        guard !names.isEmpty else { throw DomainError.invalid(field, "name at least one segment") }
        guard names.count <= 1000 else { throw DomainError.invalid(field, "at most 1,000 segments") }
        return try names.enumerated().map { index, name in
            let (owner, id) = try ResourceName.segmentReference(name, field: "\(field)[\(index)]", for: principal)
            guard owner == tenant else { throw DomainError.notFound(name) }
            return id
        }
    }

    func checkMembership(request: Segmentd_V1_CheckMembershipRequest, context: ServerContext) async throws -> Segmentd_V1_CheckMembershipResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        guard !request.userID.isEmpty else { throw DomainError.invalid("user_id", "set the user to check") }
        let ids = try Self.segmentIDs(request.segments, field: "segments", tenant: tenant, principal: principal)
        let results = try await membership.check(
            tenant: tenant, userIDs: [request.userID], segmentIDs: ids, at: request.hasAtTime ? request.atTime.date : nil)
        return .with {
            $0.userID = request.userID
            $0.results = (results[request.userID] ?? []).map { Self.proto($0, tenant: tenant) }
        }
    }

    func batchCheckMembership(
        request: Segmentd_V1_BatchCheckMembershipRequest, context: ServerContext
    ) async throws -> Segmentd_V1_BatchCheckMembershipResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        guard !request.userIds.isEmpty else { throw DomainError.invalid("user_ids", "name at least one user") }
        let ids = try Self.segmentIDs(request.segments, field: "segments", tenant: tenant, principal: principal)
        let results = try await membership.check(tenant: tenant, userIDs: request.userIds, segmentIDs: ids)
        return .with {
            $0.users = request.userIds.map { user in
                .with {
                    $0.userID = user
                    $0.results = (results[user] ?? []).map { Self.proto($0, tenant: tenant) }
                }
            }
        }
    }

    func listUserSegments(request: Segmentd_V1_ListUserSegmentsRequest, context: ServerContext) async throws -> Segmentd_V1_ListUserSegmentsResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let memberships = try await membership.segments(tenant: tenant, userID: request.userID)
        return .with { $0.memberships = memberships.map { Self.proto($0, tenant: tenant) } }
    }

    func streamSegmentMembers(
        request: Segmentd_V1_StreamSegmentMembersRequest, response: RPCWriter<Segmentd_V1_SegmentMembersChunk>, context: ServerContext
    ) async throws {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try ResourceName.segmentReference(request.segment, field: "segment", for: principal)
        let membership = membership
        try await context.untilCancelled {
            try await membership.streamMembers(
                tenant: tenant, segmentID: id, chunkSize: Int(request.chunkSize), at: request.hasAtTime ? request.atTime.date : nil
            ) { ids, total, snapshot in
                try await response.write(
                    .with {
                        $0.userIds = ids
                        $0.total = total
                        $0.snapshotTime = .init(date: snapshot)
                    })
            }
        }
    }

    func watchSegmentChanges(
        request: Segmentd_V1_WatchSegmentChangesRequest, response: RPCWriter<Segmentd_V1_WatchSegmentChangesResponse>,
        context: ServerContext
    ) async throws {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let ids = request.segments.isEmpty ? [] : try Self.segmentIDs(request.segments, field: "segments", tenant: tenant, principal: principal)
        guard (0...300).contains(request.heartbeatSeconds) else { throw DomainError.invalid("heartbeat_seconds", "1-300 seconds (0 means 10)") }
        let heartbeat = Duration.seconds(request.heartbeatSeconds == 0 ? 10 : Int(request.heartbeatSeconds))
        let changes = changes
        try await context.untilCancelled {
            try await changes.watch(tenant: tenant, segmentIDs: ids, from: Self.start(request), heartbeat: heartbeat) { page, position in
                try await response.write(
                    .with {
                        $0.changes = page.map { Self.proto($0, tenant: tenant) }
                        $0.position = position
                    })
            }
        }
    }
}
