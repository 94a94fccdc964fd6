import Foundation
import Testing

@testable import SegmentDomain

@Suite("Job arguments and results: typed, and rows written before still read")
struct JobCodingTests {
    @Test("arguments round-trip, and the string-valued arguments of older rows read the same")
    func arguments() throws {
        let arguments = JobArguments(scheduled: true, reason: "dependency buyers", format: "ndjson", attributes: ["plan", "city"])
        let encoded = try JSONEncoder().encode(arguments)
        #expect(try JSONDecoder().decode(JobArguments.self, from: encoded) == arguments)
        let legacy = #"{"scheduled": "true", "format": "ndjson", "attributes": "plan,city", "reason": "dependency buyers"}"#
        #expect(try JSONDecoder().decode(JobArguments.self, from: Data(legacy.utf8)) == arguments)
        #expect(try JSONDecoder().decode(JobArguments.self, from: Data("{}".utf8)) == JobArguments())
        let batched = JobArguments(scheduled: true, evaluateAt: 1_790_000_000_123_456)
        #expect(try JSONDecoder().decode(JobArguments.self, from: JSONEncoder().encode(batched)) == batched)
    }

    @Test("results round-trip per kind; older rows with every value a string read the same")
    func results() {
        let refresh = JobResult.refresh(
            RefreshResult(size: 10, entered: 3, exited: 1, durationMilliseconds: 42, selectMilliseconds: 7, worker: "w1", evaluatedAt: 1.5))
        #expect(JobResult.decode(kind: .refresh, json: refresh.jsonText) == refresh)
        let legacyRefresh =
            #"{"size": "10", "entered": "3", "exited": "1", "duration_ms": "42", "select_ms": "7", "worker": "w1", "evaluated_at": "1.500000"}"#
        #expect(JobResult.decode(kind: .refresh, json: legacyRefresh) == refresh)

        let sync = JobResult.sync(
            SyncResult(
                sync: ConnectorSyncResult(connectorCount: 3, matchedCount: 2, unmatchedCount: 1, unmatchedSample: ["x"], size: 2, entered: 2),
                bytes: 9, worker: "w1"))
        #expect(JobResult.decode(kind: .sync, json: sync.jsonText) == sync)
        let skipped = JobResult.sync(SyncResult(sync: nil, skipped: "the segment is paused", worker: "w1"))
        #expect(JobResult.decode(kind: .sync, json: skipped.jsonText) == skipped)

        let export = JobResult.export(
            ExportResult(export: "tenants/acme/exports/7", rows: 5, bytes: 99, sha256: "00ff", format: "csv", file: "7-1.csv", worker: "w1"))
        #expect(JobResult.decode(kind: .export, json: export.jsonText) == export)
        let legacyExport =
            #"{"export": "tenants/acme/exports/7", "rows": "5", "bytes": "99", "sha256": "00ff", "format": "csv", "file": "7-1.csv", "worker": "w1"}"#
        #expect(JobResult.decode(kind: .export, json: legacyExport) == export)
    }
}
