import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentdAPI
import SwiftProtobuf

/// `segmentd.v1.SegmentService`: the segment lifecycle, revisions, pause,
/// ready-to-use curation, refresh, size history, inspect and export.
struct SegmentService: Segmentd_V1_SegmentService.SimpleServiceProtocol {
    let segments: SegmentCommands

    // MARK: Mapping

    // MARK: Lifecycle

    func createSegment(request: Segmentd_V1_CreateSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: call.principal)
        let kind: SegmentKind
        switch request.segment.kind {
        case .ruleBased, .unspecified: kind = .ruleBased
        case .connector: kind = .connector
        case .predictive: kind = .predictive
        case .UNRECOGNIZED: throw DomainError.invalid("segment.kind", "RULE_BASED, CONNECTOR or PREDICTIVE")
        }
        let input = try Self.input(request.segment)
        if request.validateOnly {
            return Self.proto(try await segments.draft(input, kind: kind, segmentID: request.segmentID, tenant: tenant))
        }
        if request.refresh { try Self.requireRefresh(call.principal) }
        return Self.proto(
            try await segments.create(
                input, kind: kind, segmentID: request.segmentID, tenant: tenant, refresh: request.refresh, actor: call.principal.keyName,
                audit: call.audit()))
    }

    /// `refresh` on a change also needs the permission RefreshSegment needs.
    static func requireRefresh(_ principal: Principal) throws {
        guard principal.has(.segmentsRefresh) else { throw APIError.permissionDenied(.segmentsRefresh) }
    }

    func getSegment(request: Segmentd_V1_GetSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: principal)
        return Self.proto(try await segments.get(tenant: tenant, segmentID: id))
    }

    func listSegments(request: Segmentd_V1_ListSegmentsRequest, context: ServerContext) async throws -> Segmentd_V1_ListSegmentsResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        var filter = SegmentFilter()
        filter.kind = Self.kinds.first { $0.value == request.kind }?.key
        filter.state = Self.states.first { $0.value == request.state }?.key
        filter.readyToUse = request.readyToUse
        filter.category = request.category.isEmpty ? nil : request.category
        filter.text = request.query.isEmpty ? nil : request.query
        filter.showDeleted = request.showDeleted
        let (records, next) = try await segments.list(
            tenant: tenant, filter: filter, pageSize: try ResourceName.pageSize(request.pageSize, default: 100, maximum: 1000),
            pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
        return .with {
            $0.segments = records.map(Self.proto)
            $0.nextPageToken = next ?? ""
        }
    }

    func updateSegment(request: Segmentd_V1_UpdateSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.segment.name, collection: "segments", field: "segment.name", for: call.principal)
        let paths = try ResourceName.updatePaths(request.updateMask.paths, allowed: Set(SegmentField.allCases.map(\.rawValue)))
        let fields = Set(paths.compactMap(SegmentField.init(rawValue:)))
        if request.refresh { try Self.requireRefresh(call.principal) }
        return Self.proto(
            try await segments.update(
                tenant: tenant, segmentID: id, etag: try ResourceName.etag(request.segment.etag, field: "segment.etag"), fields: fields,
                input: try Self.input(request.segment, fields: fields), refresh: request.refresh, actor: call.principal.keyName,
                audit: call.audit()))
    }

    func deleteSegment(request: Segmentd_V1_DeleteSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return Self.proto(try await segments.delete(tenant: tenant, segmentID: id, etag: try ResourceName.etag(request.etag), audit: call.audit()))
    }

    func undeleteSegment(request: Segmentd_V1_UndeleteSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return Self.proto(try await segments.undelete(tenant: tenant, segmentID: id, audit: call.audit()))
    }

    func duplicateSegment(request: Segmentd_V1_DuplicateSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return Self.proto(
            try await segments.duplicate(
                tenant: tenant, segmentID: id, newSegmentID: request.newSegmentID, displayName: request.displayName, actor: call.principal.keyName,
                audit: call.audit()))
    }

    // MARK: Revisions

    func listSegmentRevisions(
        request: Segmentd_V1_ListSegmentRevisionsRequest, context: ServerContext
    ) async throws -> Segmentd_V1_ListSegmentRevisionsResponse {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try ResourceName.child(request.parent, collection: "segments", field: "parent", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 50, maximum: 500)
        var below = Int64.max
        if !request.pageToken.isEmpty {
            guard let parts = PageToken.decode(request.pageToken), let value = parts.first.flatMap(Int64.init) else {
                throw DomainError.invalid("page_token", "not a token from this list")
            }
            below = value
        }
        let record = try await segments.get(tenant: tenant, segmentID: id)
        let revisions = try await segments.revisions(tenant: tenant, segmentID: id).filter { $0.revision < below }
        let page = Array(revisions.prefix(size))
        return .with {
            $0.revisions = page.map { Self.proto($0, of: record) }
            $0.nextPageToken = revisions.count > size ? PageToken.encode([String(page.last!.revision)]) : ""
        }
    }

    /// `tenants/{t}/segments/{s}/revisions/{n}`.
    func revisionName(_ name: String, principal: Principal) throws -> (TenantID, String, Int64) {
        let (tenant, id, number) = try ResourceName.underSegment(name, "revisions", idName: "revision", field: "name", for: principal)
        guard let revision = number.flatMap({ Int64($0) }) else {
            throw DomainError.invalid("name", "expected tenants/{tenant}/segments/{segment}/revisions/{revision}, got '\(name.prefix(200))'")
        }
        return (tenant, id, revision)
    }

    func getSegmentRevision(request: Segmentd_V1_GetSegmentRevisionRequest, context: ServerContext) async throws -> Segmentd_V1_SegmentRevision {
        let principal = try RequestContext.require().principal
        let (tenant, id, number) = try revisionName(request.name, principal: principal)
        let record = try await segments.get(tenant: tenant, segmentID: id)
        return Self.proto(try await segments.revision(tenant: tenant, segmentID: id, number: number), of: record)
    }

    func rollbackSegment(request: Segmentd_V1_RollbackSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        if request.refresh { try Self.requireRefresh(call.principal) }
        return Self.proto(
            try await segments.rollback(
                tenant: tenant, segmentID: id, to: request.revision, etag: try ResourceName.etag(request.etag), refresh: request.refresh,
                actor: call.principal.keyName, audit: call.audit()))
    }

    // MARK: State and curation

    func pauseSegment(request: Segmentd_V1_SetSegmentStateRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return Self.proto(try await segments.pause(tenant: tenant, segmentID: id, audit: call.audit()))
    }

    func resumeSegment(request: Segmentd_V1_SetSegmentStateRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return Self.proto(try await segments.resume(tenant: tenant, segmentID: id, audit: call.audit()))
    }

    func pinSegment(request: Segmentd_V1_PinSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return Self.proto(
            try await segments.pin(
                tenant: tenant, segmentID: id, category: request.category, position: Int(request.position), note: request.note,
                curator: call.principal.keyName, audit: call.audit()))
    }

    func unpinSegment(request: Segmentd_V1_UnpinSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return Self.proto(try await segments.unpin(tenant: tenant, segmentID: id, audit: call.audit()))
    }

    func listReadyToUseSegments(
        request: Segmentd_V1_ListReadyToUseSegmentsRequest, context: ServerContext
    ) async throws -> Segmentd_V1_ListReadyToUseSegmentsResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 100, maximum: 1000)
        let offset = request.pageToken.isEmpty ? 0 : (PageToken.decode(request.pageToken)?.first.flatMap(Int.init) ?? -1)
        guard offset >= 0 else { throw DomainError.invalid("page_token", "not a token from this list") }
        let all = try await segments.readyToUse(tenant: tenant, category: request.category.isEmpty ? nil : request.category)
        let page = Array(all.dropFirst(offset).prefix(size))
        return .with {
            $0.segments = page.map(Self.proto)
            $0.nextPageToken = offset + size < all.count ? PageToken.encode([String(offset + size)]) : ""
        }
    }

    // MARK: Refresh, history, inspect, export

    func refreshSegment(request: Segmentd_V1_RefreshSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Operation {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return OperationService.proto(
            try await segments.requestRefresh(
                tenant: tenant, segmentID: id, creator: call.principal.keyName, audit: call.audit()))
    }

    func batchRefreshSegments(
        request: Segmentd_V1_BatchRefreshSegmentsRequest, context: ServerContext
    ) async throws -> Segmentd_V1_BatchRefreshSegmentsResponse {
        let call = try RequestContext.require()
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: call.principal)
        let ids = try MembershipService.segmentIDs(request.names, field: "names", tenant: tenant, principal: call.principal)
        let jobs = try await segments.requestRefreshes(tenant: tenant, segmentIDs: ids, creator: call.principal.keyName, audit: call.audit())
        return .with { $0.operations = jobs.map(OperationService.proto) }
    }

    func listSegmentSizeHistory(
        request: Segmentd_V1_ListSegmentSizeHistoryRequest, context: ServerContext
    ) async throws -> Segmentd_V1_ListSegmentSizeHistoryResponse {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 100, maximum: 1000)
        let points = try await segments.history(tenant: tenant, segmentID: id, limit: size)
        return .with {
            $0.points = points.map { point in
                .with {
                    $0.time = .init(date: point.time)
                    $0.size = point.size
                    $0.entered = point.entered
                    $0.exited = point.exited
                    $0.duration = .init(seconds: point.durationMilliseconds / 1000, nanos: Int32(point.durationMilliseconds % 1000) * 1_000_000)
                }
            }
        }
    }

    func inspectSegment(request: Segmentd_V1_InspectSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_SegmentInspection {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: principal)
        var other: String?
        if !request.overlapSegment.isEmpty {
            other = try ResourceName.segmentReference(request.overlapSegment, field: "overlap_segment", for: principal).id
        }
        let (segment, inspection, history) = try await segments.inspect(
            tenant: tenant, segmentID: id, sample: Int(request.sampleSize),
            attribute: request.breakdownAttribute.isEmpty ? nil : request.breakdownAttribute, breakdownLimit: Int(request.breakdownLimit),
            buckets: Int(request.breakdownBuckets), other: other)
        return .with {
            $0.segment = Self.proto(segment)
            $0.count = inspection.count
            $0.sampleUserIds = inspection.sample
            $0.breakdown = inspection.breakdown.map(Self.proto)
            if let overlap = inspection.overlap {
                $0.overlap = .with {
                    $0.segment = request.overlapSegment
                    $0.both = overlap.both
                    $0.onlyThis = overlap.onlyThis
                    $0.onlyOther = overlap.onlyOther
                }
            }
            $0.sizeHistory = history.map { point in
                .with {
                    $0.time = .init(date: point.time)
                    $0.size = point.size
                    $0.entered = point.entered
                    $0.exited = point.exited
                }
            }
            $0.enteredSample = inspection.enteredSample
            $0.exitedSample = inspection.exitedSample
        }
    }

    func exportSegment(request: Segmentd_V1_ExportSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Operation {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return OperationService.proto(
            try await segments.export(
                tenant: tenant, segmentID: id, format: request.format, attributes: request.attributes, creator: call.principal.keyName,
                audit: call.audit()))
    }

    /// Streams a finished export's file in chunks from `offset`, with its size and checksum.
    func downloadExport(
        request: Segmentd_V1_DownloadExportRequest, response: RPCWriter<Segmentd_V1_ExportChunk>, context: ServerContext
    ) async throws {
        let principal = try RequestContext.require().principal
        let (tenant, exportID) = try ResourceName.child(request.name, collection: "exports", field: "name", for: principal)
        try await segments.readExport(tenant: tenant, exportID: exportID, name: request.name, offset: request.offset) { result, data, offset in
            try await response.write(
                .with {
                    $0.data = data
                    $0.offset = offset
                    $0.totalBytes = result.bytes
                    $0.sha256 = result.sha256
                })
        }
    }
}
