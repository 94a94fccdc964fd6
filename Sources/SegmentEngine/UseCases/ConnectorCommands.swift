import Foundation
import SegmentDomain
import SegmentStore

/// Membership of connector segments: pushed in batches, in full-replace sessions,
/// and as uploaded files. Every sync carries the external tool's sync id; a retry
/// returns the first result and changes nothing.
public struct ConnectorCommands: Sendable {
    let store: ConnectorStore

    /// Bytes of an uploaded file at most (the stream is parsed as it arrives; this bounds one import).
    public static let maxImportBytes: Int64 = 1024 * 1024 * 1024

    public init(store: ConnectorStore) {
        self.store = store
    }

    /// RESOURCE_EXHAUSTED (LIMIT_EXCEEDED) for a batch over the per-call limit.
    static func checkBatch(_ ids: [String]) throws {
        guard ids.count <= ConnectorStore.maxIDsPerBatch else {
            throw DomainError(
                .limitExceeded, "user_ids: \(ids.count) ids; the limit is \(ConnectorStore.maxIDsPerBatch) per batch",
                metadata: ["limit": String(ConnectorStore.maxIDsPerBatch)])
        }
    }

    /// Adds or removes a batch of ids, once per sync id.
    public func change(
        _ change: ConnectorChange, tenant: TenantID, segmentID: String, syncID: String, ids: [String], audit: AuditContext
    ) async throws -> ConnectorSyncResult {
        try Self.checkBatch(ids)
        return try await store.change(change, tenant: tenant, segmentID: segmentID, syncID: syncID, ids: ids, audit: audit)
    }

    /// Opens a full-replace session (or finds the one of this sync id).
    public func beginReplace(
        tenant: TenantID, segmentID: String, syncID: String, creator: String, audit: AuditContext
    ) async throws -> ReplaceSessionRecord {
        try await store.begin(tenant: tenant, segmentID: segmentID, syncID: syncID, mode: .replace, creator: creator, audit: audit)
    }

    /// Stages one chunk; a chunk whose sequence was staged already is ignored.
    public func stage(tenant: TenantID, segmentID: String, sessionID: Int64, sequence: Int64?, ids: [String]) async throws -> ReplaceSessionRecord {
        try Self.checkBatch(ids)
        return try await store.stage(tenant: tenant, segmentID: segmentID, sessionID: sessionID, sequence: sequence, ids: ids)
    }

    public func session(tenant: TenantID, segmentID: String, sessionID: Int64) async throws -> ReplaceSessionRecord {
        try await store.session(tenant: tenant, segmentID: segmentID, sessionID: sessionID)
    }

    /// Audits a stream of staged chunks once, at its end.
    public func auditStaging(_ session: ReplaceSessionRecord, chunks: Int, audit: AuditContext) async throws {
        try await store.auditStaging(session, chunks: chunks, audit: audit)
    }

    /// Swaps the session's ids in atomically.
    public func commitReplace(tenant: TenantID, segmentID: String, sessionID: Int64, audit: AuditContext) async throws -> ConnectorSyncResult {
        try await store.commit(tenant: tenant, segmentID: segmentID, sessionID: sessionID, operation: "replace", audit: audit)
    }

    /// Drops the session; the membership is unchanged.
    public func abortReplace(tenant: TenantID, segmentID: String, sessionID: Int64, audit: AuditContext) async throws -> ReplaceSessionRecord {
        try await store.abort(tenant: tenant, segmentID: segmentID, sessionID: sessionID, audit: audit)
    }

    /// Starts importing an uploaded file of ids (``MemberImport``); a bad line or an
    /// over-large file is INVALID_ARGUMENT / RESOURCE_EXHAUSTED naming it.
    public func beginImport(
        tenant: TenantID, segmentID: String, syncID: String, format: String, replace: Bool, creator: String, audit: AuditContext
    ) async throws -> MemberImport {
        guard let parsed = MemberListParser.Format(rawValue: format.isEmpty ? "csv" : format.lowercased()) else {
            throw DomainError.invalid("format", "csv or ndjson")
        }
        return try await MemberImport.begin(
            connectors: store, tenant: tenant, segmentID: segmentID, syncID: syncID, mode: replace ? .replace : .add, format: parsed,
            maxBytes: Self.maxImportBytes, creator: creator, audit: audit
        ) { problem in
            switch problem {
            case .tooLarge(let limit): DomainError(.limitExceeded, "the file is over \(limit) bytes")
            case .unreadable(let error): DomainError.invalid("data", "\(error)")
            }
        }
    }

    /// Commits an import; a retried import that had landed returns its first result.
    public func commitImport(_ upload: MemberImport, audit: AuditContext) async throws -> ConnectorSyncResult {
        try await upload.commit(operation: "import", audit: audit)
    }
}
