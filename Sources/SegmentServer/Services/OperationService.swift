import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI

/// `segmentd.v1.OperationService`: jobs (refreshes, and later exports, syncs
/// and training) as operations a caller can get, list, cancel and wait on.
struct OperationService: Segmentd_V1_OperationService.SimpleServiceProtocol {
    let operations: Operations

    static func jobID(_ name: String, principal: Principal) throws -> (TenantID, Int64) {
        let (tenant, id) = try ResourceName.child(name, collection: "operations", field: "name", for: principal)
        guard let jobID = Int64(id) else { throw DomainError.notFound(name) }
        return (tenant, jobID)
    }

    func getOperation(request: Segmentd_V1_GetOperationRequest, context: ServerContext) async throws -> Segmentd_V1_Operation {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try Self.jobID(request.name, principal: principal)
        return Self.proto(try await operations.get(tenant: tenant, jobID: id))
    }

    func listOperations(request: Segmentd_V1_ListOperationsRequest, context: ServerContext) async throws -> Segmentd_V1_ListOperationsResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 50, maximum: 500)
        var before: Int64?
        if !request.pageToken.isEmpty {
            guard let value = PageToken.decode(request.pageToken)?.first.flatMap(Int64.init) else {
                throw DomainError.invalid("page_token", "not a token from this list")
            }
            before = value
        }
        let wanted = Set(request.states)
        let kind = request.kind
        // Filters apply after paging by id, so a page may be short; the token still moves on.
        let jobs = try await operations.list(tenant: tenant, target: request.target.isEmpty ? nil : request.target, pageSize: size, before: before)
        return .with {
            $0.operations = jobs.map(Self.proto).filter { (wanted.isEmpty || wanted.contains($0.state)) && (kind == .unspecified || $0.kind == kind) }
            $0.nextPageToken = jobs.count == size ? PageToken.encode([String(jobs.last!.jobID)]) : ""
        }
    }

    func cancelOperation(request: Segmentd_V1_CancelOperationRequest, context: ServerContext) async throws -> Segmentd_V1_Operation {
        let call = try RequestContext.require()
        let (tenant, id) = try Self.jobID(request.name, principal: call.principal)
        return Self.proto(try await operations.cancel(tenant: tenant, jobID: id, audit: call.audit()))
    }

    func waitOperation(
        request: Segmentd_V1_GetOperationRequest, response: RPCWriter<Segmentd_V1_Operation>, context: ServerContext
    ) async throws {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try Self.jobID(request.name, principal: principal)
        let operations = operations
        // Ends at the job's end, or at the call's deadline (or when the client goes away).
        try await context.untilCancelled {
            try await operations.wait(tenant: tenant, jobID: id) { job in
                try await response.write(Self.proto(job))
            }
        }
    }
}
