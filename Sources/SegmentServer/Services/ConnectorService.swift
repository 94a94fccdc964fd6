import Foundation
import GRPCCore
import SegmentEngine
import SegmentStore
import SegmentdAPI
import SegmentDomain

/// `segmentd.v1.ConnectorService`: membership of connector segments pushed in
/// batches, in full-replace sessions and as uploaded files, and pulls on
/// demand. Every sync carries the external tool's sync id; a retry returns the
/// first result and changes nothing.
struct ConnectorService: Segmentd_V1_ConnectorService.SimpleServiceProtocol {
    let store: ConnectorStore
    let segments: SegmentStore

    /// Bytes of an uploaded file at most (the stream is parsed as it arrives; this bounds one import).
    static let maxImportBytes: Int64 = 1024 * 1024 * 1024

    static func proto(_ session: ReplaceSessionRecord) -> Segmentd_V1_ReplaceSession {
        .with {
            $0.name = session.name
            $0.syncID = session.syncID
            $0.staged = session.staged
            $0.state = session.state.rawValue
            $0.expireTime = .init(date: session.expiresAt)
        }
    }

    /// `tenants/{t}/segments/{s}/replaceSessions/{id}`.
    static func sessionName(_ name: String, field: String, principal: Principal) throws -> (TenantID, String, Int64) {
        let (tenant, segment, number) = try ResourceName.underSegment(name, "replaceSessions", field: field, for: principal)
        guard let id = number.flatMap({ Int64($0) }) else {
            throw DomainError.invalid(field, "expected tenants/{tenant}/segments/{segment}/replaceSessions/{id}, got '\(name.prefix(200))'")
        }
        return (tenant, segment, id)
    }

    static func checkBatch(_ ids: [String]) throws {
        guard ids.count <= ConnectorStore.maxIDsPerBatch else {
            throw APIError(
                .resourceExhausted, "user_ids: \(ids.count) ids; the limit is \(ConnectorStore.maxIDsPerBatch) per batch", reason: "LIMIT_EXCEEDED",
                metadata: ["limit": String(ConnectorStore.maxIDsPerBatch)])
        }
    }

    func change(_ change: ConnectorChange, _ request: Segmentd_V1_ChangeMembersRequest) async throws -> Segmentd_V1_SyncResult {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.segment, collection: "segments", field: "segment", for: call.principal)
        try Self.checkBatch(request.userIds)
        return SegmentKindMapping.proto(try await store.change(
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
        let (tenant, id) = try ResourceName.child(request.segment, collection: "segments", field: "segment", for: call.principal)
        return Self.proto(try await store.begin(
            tenant: tenant, segmentID: id, syncID: request.syncID, mode: .replace, creator: call.principal.keyName, audit: call.audit()))
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
            try Self.checkBatch(chunk.userIds)
            session = try await store.stage(
                tenant: current.tenant, segmentID: current.segment, sessionID: current.id, sequence: chunk.sequence, ids: chunk.userIds)
            chunks += 1
        }
        guard let current else { throw DomainError.invalid("session", "the stream sent no chunks") }
        var staged: ReplaceSessionRecord
        if let session { staged = session } else { staged = try await store.session(tenant: current.tenant, segmentID: current.segment, sessionID: current.id) }
        try await store.auditStaging(staged, chunks: chunks, audit: call.audit(in: current.tenant))
        return Self.proto(staged)
    }

    func commitReplace(request: Segmentd_V1_FinishReplaceRequest, context: ServerContext) async throws -> Segmentd_V1_SyncResult {
        let call = try RequestContext.require()
        let (tenant, segment, id) = try Self.sessionName(request.session, field: "session", principal: call.principal)
        return SegmentKindMapping.proto(try await store.commit(
            tenant: tenant, segmentID: segment, sessionID: id, operation: "replace", audit: call.audit()))
    }

    func abortReplace(request: Segmentd_V1_FinishReplaceRequest, context: ServerContext) async throws -> Segmentd_V1_ReplaceSession {
        let call = try RequestContext.require()
        let (tenant, segment, id) = try Self.sessionName(request.session, field: "session", principal: call.principal)
        return Self.proto(try await store.abort(tenant: tenant, segmentID: segment, sessionID: id, audit: call.audit()))
    }

    /// Parses the uploaded file as it streams in, stages its ids in a session
    /// named by the sync id, and commits it (append or replace) at the end. A
    /// bad line aborts the session: INVALID_ARGUMENT naming the line, nothing changed.
    func importMembers(request: RPCAsyncSequence<Segmentd_V1_ImportChunk, any Error>, context: ServerContext) async throws -> Segmentd_V1_SyncResult {
        let call = try RequestContext.require()
        var parser: MemberListParser?
        var target: (tenant: TenantID, segment: String, session: ReplaceSessionRecord)?
        var batch: [String] = []
        var sequence: Int64 = 0
        var bytes: Int64 = 0
        func flush() async throws {
            guard let target, !batch.isEmpty else { return }
            _ = try await store.stage(tenant: target.tenant, segmentID: target.segment, sessionID: target.session.sessionID, sequence: sequence, ids: batch)
            sequence += 1
            batch.removeAll(keepingCapacity: true)
        }
        do {
            for try await chunk in request {
                if target == nil {
                    let (tenant, segment) = try ResourceName.child(chunk.segment, collection: "segments", field: "segment", for: call.principal)
                    let format = chunk.format.isEmpty ? "csv" : chunk.format.lowercased()
                    guard let parsed = MemberListParser.Format(rawValue: format) else { throw DomainError.invalid("format", "csv or ndjson") }
                    parser = MemberListParser(format: parsed)
                    let session = try await store.begin(
                        tenant: tenant, segmentID: segment, syncID: chunk.syncID, mode: chunk.replace ? .replace : .add,
                        creator: call.principal.keyName, audit: call.audit())
                    target = (tenant, segment, session)
                    if session.state == .committed {
                        // A retried import that already landed: its first result stands.
                        return SegmentKindMapping.proto(try await store.commit(
                            tenant: tenant, segmentID: segment, sessionID: session.sessionID, operation: "import", audit: call.audit()))
                    }
                }
                bytes += Int64(chunk.data.count)
                guard bytes <= Self.maxImportBytes else {
                    throw APIError(.resourceExhausted, "the file is over \(Self.maxImportBytes) bytes", reason: "LIMIT_EXCEEDED")
                }
                do {
                    batch += try parser!.feed(chunk.data)
                } catch let error as MemberListParser.ParseError {
                    throw DomainError.invalid("data", "\(error)")
                }
                if batch.count >= ConnectorStore.maxIDsPerBatch / 2 { try await flush() }
            }
            guard let target else { throw DomainError.invalid("segment", "the stream sent no chunks") }
            do {
                batch += try parser!.finish()
            } catch let error as MemberListParser.ParseError {
                throw DomainError.invalid("data", "\(error)")
            }
            try await flush()
            return SegmentKindMapping.proto(try await store.commit(
                tenant: target.tenant, segmentID: target.segment, sessionID: target.session.sessionID, operation: "import", audit: call.audit()))
        } catch {
            if let target {
                _ = try? await store.abort(tenant: target.tenant, segmentID: target.segment, sessionID: target.session.sessionID, audit: call.audit())
            }
            throw error
        }
    }

    func syncNow(request: Segmentd_V1_SyncNowRequest, context: ServerContext) async throws -> Segmentd_V1_Operation {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.segment, collection: "segments", field: "segment", for: call.principal)
        let segment = try await segments.get(tenant: tenant, segmentID: id, showDeleted: false)
        guard segment.definition.connector?.source == .pull else {
            throw APIError(.failedPrecondition, "\(segment.name) is not a PULL connector segment: nothing to fetch", reason: "FAILED_PRECONDITION")
        }
        guard segment.state == .active else {
            throw APIError(
                .failedPrecondition, "\(segment.name) is \(segment.state.rawValue): resume it to sync it (its last membership is kept)",
                reason: "SEGMENT_PAUSED", metadata: ["segment": segment.name])
        }
        return OperationService.proto(try await segments.requestRefresh(tenant: tenant, segmentID: id, creator: call.principal.keyName, audit: call.audit()))
    }
}
