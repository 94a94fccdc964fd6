import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI

/// `segmentd.v1.OperationService`: jobs (refreshes, and later exports, syncs
/// and training) as operations a caller can get, list, cancel and wait on.
struct OperationService: Segmentd_V1_OperationService.SimpleServiceProtocol {
    let operations: Operations

    static let states: [JobState: Segmentd_V1_OperationState] = [
        .queued: .queued, .running: .running, .retrying: .retrying, .succeeded: .succeeded, .failed: .failed, .cancelled: .cancelled,
    ]
    static func proto(_ kind: JobKind) -> Segmentd_V1_OperationKind {
        switch kind {
        case .refresh: .refresh
        case .export: .export
        case .sync: .sync
        case .train: .train
        }
    }

    static func proto(_ job: JobRecord) -> Segmentd_V1_Operation {
        .with {
            $0.name = job.name
            $0.kind = proto(job.kind)
            $0.state = states[job.state] ?? .unspecified
            $0.target = job.target
            $0.progress = .with {
                $0.done = job.progress.done
                $0.total = job.progress.total
                $0.stage = job.progress.stage
            }
            $0.attempt = Int32(job.attempt)
            $0.maxAttempts = Int32(job.maxAttempts)
            $0.createTime = .init(date: job.createdAt)
            $0.runTime = .init(date: job.runAt)
            if let started = job.startedAt { $0.startTime = .init(date: started) }
            if let finished = job.finishedAt { $0.endTime = .init(date: finished) }
            if let error = job.errors.last, job.state != .succeeded {
                $0.error = .with {
                    $0.code = error.code
                    $0.message = error.message
                }
            }
            $0.creator = job.creator
            $0.done = job.state.isFinal
            switch job.result {
            case .export(let result)?:
                $0.export = .with {
                    $0.export = result.export
                    $0.rows = result.rows
                    $0.bytes = result.bytes
                    $0.sha256 = result.sha256
                    $0.format = result.format
                }
            case .refresh(let result)?:
                $0.refresh = .with {
                    $0.size = result.size
                    $0.entered = result.entered
                    $0.exited = result.exited
                    $0.durationMs = result.durationMilliseconds
                }
            case .sync(let result)?:
                if let sync = result.sync {
                    $0.sync = .with {
                        $0.connectorCount = sync.connectorCount
                        $0.matchedCount = sync.matchedCount
                        $0.unmatchedCount = sync.unmatchedCount
                        $0.unmatchedSample = sync.unmatchedSample
                        $0.size = sync.size
                        $0.entered = sync.entered
                        $0.exited = sync.exited
                        $0.notModified = sync.notModified
                    }
                }
            case .train(let result)?:
                // The card's headline figures; GetModelCard has the whole card.
                $0.training = .with {
                    $0.name = result.model
                    $0.holdoutAuc = result.holdoutAUC
                    $0.trainingUsers = result.trainingUsers
                    $0.scoredUsers = result.scoredUsers
                    $0.algorithm = result.algorithm
                }
            case nil:
                break
            }
        }
    }

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
        try await operations.wait(tenant: tenant, jobID: id) { job in
            try await response.write(Self.proto(job))
        }
    }
}
