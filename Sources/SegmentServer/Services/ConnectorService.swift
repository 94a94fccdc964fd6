import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI

/// `segmentd.v1.ConnectorService`: membership of connector segments pushed in
/// batches, in full-replace sessions and as uploaded files, and pulls on
/// demand. Every sync carries the external tool's sync id; a retry returns the
/// first result and changes nothing.
struct ConnectorService: Segmentd_V1_ConnectorService.SimpleServiceProtocol {
    let connectors: ConnectorCommands
    let segments: SegmentCommands

    /// `tenants/{t}/segments/{s}/replaceSessions/{id}`.
    static func sessionName(_ name: String, field: String, principal: Principal) throws -> (TenantID, String, Int64) {
        let (tenant, segment, number) = try ResourceName.underSegment(name, "replaceSessions", field: field, for: principal)
        guard let id = number.flatMap({ Int64($0) }) else {
            throw DomainError.invalid(field, "expected tenants/{tenant}/segments/{segment}/replaceSessions/{id}, got '\(name.prefix(200))'")
        }
        return (tenant, segment, id)
    }

    func change(_ change: ConnectorChange, _ request: Segmentd_V1_ChangeMembersRequest) async throws -> Segmentd_V1_SyncResult {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.segmentReference(request.segment, field: "segment", for: call.principal)
        return SegmentKindMapping.proto(
            try await connectors.change(
                change, tenant: tenant, segmentID: id, syncID: request.syncID, ids: request.userIds, audit: call.audit()))
    }

    func addMembers(request: Segmentd_V1_ChangeMembersRequest, context: ServerContext) async throws -> Segmentd_V1_SyncResult {
        try await change(.add, request)
    }

    func removeMembers(request: Segmentd_V1_ChangeMembersRequest, context: ServerContext) async throws -> Segmentd_V1_SyncResult {
        try await change(.remove, request)
    }

    func beginReplace(request: Segmentd_V1_BeginReplaceRequest, context: ServerContext) async throws -> Segmentd_V1_ReplaceSession {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.segmentReference(request.segment, field: "segment", for: call.principal)
        return Self.proto(
            try await connectors.beginReplace(
                tenant: tenant, segmentID: id, syncID: request.syncID, creator: call.principal.keyName, audit: call.audit()))
    }

    func streamReplaceChunks(
        request: RPCAsyncSequence<Segmentd_V1_ReplaceChunk, any Error>, context: ServerContext
    ) async throws -> Segmentd_V1_ReplaceSession {
        let call = try RequestContext.require()
        var current: (name: String, tenant: TenantID, segment: String, id: Int64)?
        var session: ReplaceSessionRecord?
        var chunks = 0
        for try await chunk in request {
            if current == nil {
                let (tenant, segment, id) = try Self.sessionName(chunk.session, field: "session", principal: call.principal)
                current = (chunk.session, tenant, segment, id)
            }
            guard let current else { break }
            guard chunk.session.isEmpty || chunk.session == current.name else {
                throw DomainError.invalid("session", "chunk \(chunks) names another session; one stream stages one session")
            }
            session = try await connectors.stage(
                tenant: current.tenant, segmentID: current.segment, sessionID: current.id, sequence: chunk.sequence, ids: chunk.userIds)
            chunks += 1
        }
        guard let current else { throw DomainError.invalid("session", "the stream sent no chunks") }
        var staged: ReplaceSessionRecord
        if let session {
            staged = session
        } else {
            staged = try await connectors.session(tenant: current.tenant, segmentID: current.segment, sessionID: current.id)
        }
        try await connectors.auditStaging(staged, chunks: chunks, audit: call.audit(in: current.tenant))
        return Self.proto(staged)
    }

    func commitReplace(request: Segmentd_V1_FinishReplaceRequest, context: ServerContext) async throws -> Segmentd_V1_SyncResult {
        let call = try RequestContext.require()
        let (tenant, segment, id) = try Self.sessionName(request.session, field: "session", principal: call.principal)
        return SegmentKindMapping.proto(try await connectors.commitReplace(tenant: tenant, segmentID: segment, sessionID: id, audit: call.audit()))
    }

    func abortReplace(request: Segmentd_V1_FinishReplaceRequest, context: ServerContext) async throws -> Segmentd_V1_ReplaceSession {
        let call = try RequestContext.require()
        let (tenant, segment, id) = try Self.sessionName(request.session, field: "session", principal: call.principal)
        return Self.proto(try await connectors.abortReplace(tenant: tenant, segmentID: segment, sessionID: id, audit: call.audit()))
    }

    /// Streams the uploaded file into one import (parsed as it arrives, staged in a
    /// session named by the sync id, committed at the end). A bad line aborts it:
    /// INVALID_ARGUMENT naming the line, nothing changed.
    func importMembers(request: RPCAsyncSequence<Segmentd_V1_ImportChunk, any Error>, context: ServerContext) async throws -> Segmentd_V1_SyncResult {
        let call = try RequestContext.require()
        var upload: MemberImport?
        do {
            for try await chunk in request {
                if upload == nil {
                    let (tenant, segment) = try ResourceName.segmentReference(chunk.segment, field: "segment", for: call.principal)
                    let started = try await connectors.beginImport(
                        tenant: tenant, segmentID: segment, syncID: chunk.syncID, format: chunk.format, replace: chunk.replace,
                        creator: call.principal.keyName, audit: call.audit())
                    // A retried import that already landed: its first result stands.
                    if started.session.state == .committed {
                        return SegmentKindMapping.proto(try await connectors.commitImport(started, audit: call.audit()))
                    }
                    upload = started
                }
                try await upload?.feed(chunk.data)
            }
            guard var finished = upload else { throw DomainError.invalid("segment", "the stream sent no chunks") }
            try await finished.finish()
            return SegmentKindMapping.proto(try await connectors.commitImport(finished, audit: call.audit()))
        } catch {
            await upload?.abort(audit: call.audit())
            throw error
        }
    }

    func syncNow(request: Segmentd_V1_SyncNowRequest, context: ServerContext) async throws -> Segmentd_V1_Operation {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.segmentReference(request.segment, field: "segment", for: call.principal)
        return OperationService.proto(try await segments.syncNow(tenant: tenant, segmentID: id, creator: call.principal.keyName, audit: call.audit()))
    }
}
