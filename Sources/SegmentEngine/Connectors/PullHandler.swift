import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SegmentDomain
import SegmentStore

/// Pulls a PULL connector's file (CSV or NDJSON of user ids) over HTTP(S) and
/// makes its ids the membership: a conditional GET (ETag / Last-Modified of
/// the last fetch; 304 changes nothing), a size limit checked on the header and
/// on the bytes, a deadline for the whole transfer, and the optional
/// `Authorization` header, which is never logged and never in an error.
///
/// The body is parsed as it arrives and staged in a replace session named for
/// the attempt; the commit swaps membership and finishes the job in one
/// transaction, so a failed or rescued attempt changes nothing.
public struct PullHandler: JobHandler {
    public let kind = JobKind.sync
    let connectors: ConnectorStore
    let fetcher: PullFetcher

    /// A handler that connects only to addresses `policy` permits, looked up by `resolver`.
    public init(connectors: ConnectorStore, policy: PullAddressPolicy, resolver: any HostResolver = SystemHostResolver()) {
        self.connectors = connectors
        self.fetcher = PullFetcher(policy: policy, resolver: resolver)
    }

    public func run(_ job: JobRecord, worker: String) async throws {
        let segmentID = job.segmentID
        guard let source = try await connectors.pullSource(tenant: job.tenantID, segmentID: segmentID) else {
            try await connectors.finishSkipped(job, worker: worker, reason: "not a PULL connector segment (or deleted)")
            return
        }
        guard source.segment.state == .active else {
            try await connectors.finishSkipped(job, worker: worker, reason: "the segment is \(source.segment.state.rawValue)")
            return
        }
        let settings = source.settings
        let timeout = Duration.milliseconds(Int64(settings.timeoutSeconds * 1000))
        try await Self.withDeadline(timeout, what: "pulling \(Self.redacted(settings.url))") {
            try await pull(job, worker: worker, source: source)
        }
    }

    func pull(_ job: JobRecord, worker: String, source: ConnectorStore.PullSource) async throws {
        let settings = source.settings
        let url = Self.redacted(settings.url)
        var headers = HTTPHeaders()
        headers.add(name: "User-Agent", value: "segmentd")
        headers.add(name: "Accept", value: settings.format == "ndjson" ? "application/x-ndjson, */*" : "text/csv, */*")
        if let etag = source.etag { headers.add(name: "If-None-Match", value: etag) }
        if let modified = source.lastModified { headers.add(name: "If-Modified-Since", value: modified) }
        let request = PullFetcher.Request(
            url: settings.url, headers: headers, authorization: source.authHeader, timeout: .seconds(Int64(settings.timeoutSeconds.rounded(.up))))
        do {
            try await fetcher.fetch(request) { response in
                try await store(response, job: job, worker: worker, source: source)
            }
        } catch var error as DomainError {
            error.message = "GET \(url): \(error.message)"
            throw error
        }
    }

    /// Stages the body of a successful answer and commits it as the membership.
    func store(_ response: HTTPClientResponse, job: JobRecord, worker: String, source: ConnectorStore.PullSource) async throws {
        let settings = source.settings
        if response.status == .notModified {
            _ = try await connectors.finishNotModified(job, worker: worker)
            return
        }
        guard (200..<300).contains(response.status.code) else {
            let permanent = [401, 403, 404, 410].contains(Int(response.status.code))
            throw DomainError(permanent ? .failedPrecondition : .unavailable, "the source answered \(response.status.code)")
        }
        if let length = response.headers.first(name: "Content-Length").flatMap(Int64.init), length > settings.maxBytes {
            throw DomainError(.failedPrecondition, "the file is \(length) bytes, over the limit of \(settings.maxBytes) bytes (max_bytes)")
        }
        let audit = AuditContext(
            tenant: job.tenantID, actor: AuditActor(name: "system"), action: "segmentd.system/PullConnector", resultCode: { _ in "INTERNAL" })
        var upload = try await MemberImport.begin(
            connectors: connectors, tenant: job.tenantID, segmentID: source.segment.segmentID, syncID: "pull-\(job.jobID)-\(job.attempt)",
            mode: .replace, format: settings.format == "ndjson" ? .ndjson : .csv, maxBytes: settings.maxBytes, creator: job.creator,
            audit: audit, allowPull: true
        ) { problem in
            switch problem {
            case .tooLarge(let limit): DomainError(.failedPrecondition, "the file is over the limit of \(limit) bytes (max_bytes)")
            case .unreadable(let error): DomainError(.failedPrecondition, "not a list of user ids: \(error)")
            }
        }
        do {
            for try await buffer in response.body {
                try await upload.feed(buffer.readableBytesView)
                try Task.checkCancellation()
            }
            try await upload.finish()
            let completion = ConnectorStore.PullCompletion(
                job: job, worker: worker, etag: response.headers.first(name: "ETag"), lastModified: response.headers.first(name: "Last-Modified"),
                bytes: upload.bytes)
            _ = try await upload.commit(
                operation: "pull", audit: audit, allowPull: true, jobID: job.jobID, scheduled: job.args.scheduled, pull: completion)
        } catch {
            await upload.abort(audit: audit)
            throw error
        }
    }

    public func failed(_ job: JobRecord, message: String) async {
        try? await connectors.recordPullFailure(job, message: message)
    }

    /// The URL without its query values and fragment (they may carry tokens).
    static func redacted(_ url: String) -> String {
        PullSettings(url: url, format: "csv").redactedURL
    }

    /// Runs `body`, cancelling it and failing with UNAVAILABLE when `limit` passes.
    static func withDeadline<Result: Sendable>(
        _ limit: Duration, what: String, _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                throw DomainError(.unavailable, "\(what) took longer than the timeout of \(limit)")
            }
            return result
        }
    }
}
