import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI

/// `segmentd.v1.AuditService`: reads and verifies the tenant's audit chain.
struct AuditService: Segmentd_V1_AuditService.SimpleServiceProtocol {
    let audit: AuditTrail

    func listAuditEvents(
        request: Segmentd_V1_ListAuditEventsRequest, context: ServerContext
    ) async throws -> Segmentd_V1_ListAuditEventsResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 100, maximum: 1000)
        var filter = AuditFilter()
        filter.actor = request.actor.isEmpty ? nil : request.actor
        filter.action = request.action.isEmpty ? nil : request.action
        filter.resource = request.resource.isEmpty ? nil : request.resource
        filter.start = request.hasStartTime ? request.startTime.date : nil
        filter.end = request.hasEndTime ? request.endTime.date : nil
        filter.afterSequence = request.afterSequence > 0 ? request.afterSequence : nil
        filter.ascending = request.ascending
        let (events, next) = try await audit.list(
            tenant: tenant, filter: filter, pageSize: size, pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
        return .with {
            $0.auditEvents = events.map(Segmentd_V1_AuditEvent.init)
            $0.nextPageToken = next ?? ""
        }
    }

    func verifyAuditChain(
        request: Segmentd_V1_VerifyAuditChainRequest, context: ServerContext
    ) async throws -> Segmentd_V1_VerifyAuditChainResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let result = try await audit.verify(tenant: tenant)
        return .with {
            $0.ok = result.ok
            $0.checked = result.checked
            $0.firstBadSequence = result.firstBadSequence
            $0.problem = result.problem
            $0.headSequence = result.headSequence
        }
    }
}
