import Foundation
import SegmentDomain
import SegmentStore

/// A list of user ids (CSV or NDJSON) streamed into a connector segment: parsed
/// as the bytes arrive, staged in batches in a session named by the sync id,
/// then committed (append or replace) in one transaction — or aborted, changing
/// nothing. The one import path: uploaded files (`ImportMembers`) and scheduled
/// pulls both go through it.
public struct MemberImport: Sendable {
    /// What can be wrong with the bytes themselves; each caller says it in its own terms.
    public enum Problem: Sendable {
        case tooLarge(limit: Int64)
        case unreadable(MemberListParser.ParseError)
    }

    let connectors: ConnectorStore
    public let tenant: TenantID
    public let segmentID: String
    /// The staging session (already committed when a retried import had landed).
    public let session: ReplaceSessionRecord
    let maxBytes: Int64
    let problem: @Sendable (Problem) -> DomainError
    private var parser: MemberListParser
    private var batch: [String] = []
    private var sequence: Int64 = 0
    /// Bytes read so far.
    public private(set) var bytes: Int64 = 0

    /// Opens (or, for a retry of the same sync id, finds) the staging session.
    public static func begin(
        connectors: ConnectorStore, tenant: TenantID, segmentID: String, syncID: String, mode: ReplaceSessionRecord.Mode,
        format: MemberListParser.Format, maxBytes: Int64, creator: String, audit: AuditContext, allowPull: Bool = false,
        problem: @escaping @Sendable (Problem) -> DomainError
    ) async throws -> MemberImport {
        let session = try await connectors.begin(
            tenant: tenant, segmentID: segmentID, syncID: syncID, mode: mode, creator: creator, audit: audit, allowPull: allowPull)
        return MemberImport(
            connectors: connectors, tenant: tenant, segmentID: segmentID, session: session, maxBytes: maxBytes, problem: problem,
            parser: MemberListParser(format: format))
    }

    private init(
        connectors: ConnectorStore, tenant: TenantID, segmentID: String, session: ReplaceSessionRecord, maxBytes: Int64,
        problem: @escaping @Sendable (Problem) -> DomainError, parser: MemberListParser
    ) {
        self.connectors = connectors
        self.tenant = tenant
        self.segmentID = segmentID
        self.session = session
        self.maxBytes = maxBytes
        self.problem = problem
        self.parser = parser
    }

    /// Parses the next piece of the file; stages a batch whenever one is full.
    public mutating func feed<Bytes: Collection>(_ data: Bytes) async throws where Bytes.Element == UInt8 {
        bytes += Int64(data.count)
        guard bytes <= maxBytes else { throw problem(.tooLarge(limit: maxBytes)) }
        do {
            batch += try parser.feed(data)
        } catch let error as MemberListParser.ParseError {
            throw problem(.unreadable(error))
        }
        if batch.count >= ConnectorStore.maxIDsPerBatch / 2 { try await flush() }
    }

    /// Reads the end of the file and stages what is left.
    public mutating func finish() async throws {
        do {
            batch += try parser.finish()
        } catch let error as MemberListParser.ParseError {
            throw problem(.unreadable(error))
        }
        try await flush()
    }

    private mutating func flush() async throws {
        guard !batch.isEmpty else { return }
        _ = try await connectors.stage(tenant: tenant, segmentID: segmentID, sessionID: session.sessionID, sequence: sequence, ids: batch)
        sequence += 1
        batch.removeAll(keepingCapacity: true)
    }

    /// Swaps the staged ids in (or adds them), in one transaction; a pull's job completes in it too.
    public func commit(
        operation: String, audit: AuditContext, allowPull: Bool = false, jobID: Int64? = nil, scheduled: Bool = false,
        pull: ConnectorStore.PullCompletion? = nil
    ) async throws -> ConnectorSyncResult {
        try await connectors.commit(
            tenant: tenant, segmentID: segmentID, sessionID: session.sessionID, operation: operation, audit: audit, allowPull: allowPull,
            jobID: jobID, scheduled: scheduled, pull: pull)
    }

    /// Drops what was staged; the membership is unchanged.
    public func abort(audit: AuditContext) async {
        _ = try? await connectors.abort(tenant: tenant, segmentID: segmentID, sessionID: session.sessionID, audit: audit)
    }
}
