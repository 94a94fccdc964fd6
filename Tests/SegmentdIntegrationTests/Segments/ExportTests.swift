import Crypto
import Foundation
import GRPCCore
import Logging
import PostgresNIO
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("Export: CSV and NDJSON files written atomically, downloaded in chunks with a checksum", .timeLimit(.minutes(5)))
struct ExportTests {
    static let parent = "tenants/acme"

    static func download(_ connection: SegmentdConnection, _ name: String, offset: Int64 = 0) async throws -> (Data, String) {
        let request = ClientRequest(
            message: Segmentd_V1_DownloadExportRequest.with {
                $0.name = name
                $0.offset = offset
            }, metadata: connection.metadata)
        return try await connection.segments.downloadExport(request: request) { response in
            var data = Data()
            var sha = ""
            for try await chunk in response.messages {
                #expect(chunk.offset == offset + Int64(data.count))
                data.append(chunk.data)
                sha = chunk.sha256
            }
            return (data, sha)
        }
    }

    static func hex(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

    @Test("export a (paused) segment as CSV and NDJSON; the download matches the checksum and the members")
    func export() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await MembershipTests.seed(server, connection)
                // A value CSV must quote.
                _ = try await connection.ingestion.upsertProfiles(
                    .with {
                        $0.parent = Self.parent
                        $0.profiles = [
                            .with {
                                $0.userID = "u4"
                                $0.attributes = ["tier": .string("x, \"y\"")]
                            },
                            // Values a spreadsheet would run as formulas.
                            .with {
                                $0.userID = "u0"
                                $0.attributes = ["tier": .string("=HYPERLINK(\"http://x\",\"y\")")]
                            },
                            .with {
                                $0.userID = "u2"
                                $0.attributes = ["tier": .string("@SUM(1)")]
                            },
                        ]
                    },
                    metadata: connection.metadata)
                _ = try await connection.segments.pauseSegment(.with { $0.name = "\(Self.parent)/segments/buyers" }, metadata: connection.metadata)
                let csvOperation = try await connection.segments.exportSegment(
                    .with {
                        $0.name = "\(Self.parent)/segments/buyers"
                        $0.attributes = ["tier"]
                    }, metadata: connection.metadata)
                let ndjsonOperation = try await connection.segments.exportSegment(
                    .with {
                        $0.name = "\(Self.parent)/segments/buyers"
                        $0.format = "ndjson"
                        $0.attributes = ["tier"]
                    }, metadata: connection.metadata)
                try await server.worker.drain()

                let csv = try await connection.operations.getOperation(.with { $0.name = csvOperation.name }, metadata: connection.metadata)
                #expect(csv.state == .succeeded && csv.export.rows == 3 && csv.export.format == "csv", "\(csv)")
                let (csvData, csvSHA) = try await Self.download(connection, csv.export.export)
                #expect(
                    String(decoding: csvData, as: UTF8.self)
                        == "user_id,tier\nu0,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\nu2,'@SUM(1)\nu4,\"x, \"\"y\"\"\"\n")
                #expect(Self.hex(csvData) == csvSHA && csvSHA == csv.export.sha256 && Int64(csvData.count) == csv.export.bytes)
                // Resuming from an offset returns the rest.
                let (rest, _) = try await Self.download(connection, csv.export.export, offset: 13)
                #expect(rest == csvData.dropFirst(13))

                let ndjson = try await connection.operations.getOperation(.with { $0.name = ndjsonOperation.name }, metadata: connection.metadata)
                let (ndjsonData, ndjsonSHA) = try await Self.download(connection, ndjson.export.export)
                #expect(
                    String(decoding: ndjsonData, as: UTF8.self) == """
                        {"user_id":"u0","attributes":{"tier": "=HYPERLINK(\\"http://x\\",\\"y\\")"}}
                        {"user_id":"u2","attributes":{"tier": "@SUM(1)"}}
                        {"user_id":"u4","attributes":{"tier": "x, \\"y\\""}}

                        """)
                #expect(Self.hex(ndjsonData) == ndjsonSHA)
                // No temporary file is left behind.
                let files = try FileManager.default.contentsOfDirectory(atPath: Self.exportFolder(server))
                #expect(
                    files.sorted()
                        == ["\(csvOperation.name.split(separator: "/").last!)-1.csv", "\(ndjsonOperation.name.split(separator: "/").last!)-1.ndjson"]
                        .sorted())

                #expect(
                    await SegmentLifecycleTests.code {
                        _ = try await connection.segments.exportSegment(
                            .with {
                                $0.name = "\(Self.parent)/segments/buyers"
                                $0.format = "xml"
                            }, metadata: connection.metadata)
                    }.0 == .invalidArgument)
                #expect(await SegmentLifecycleTests.code { _ = try await Self.download(connection, "\(Self.parent)/exports/999") }.0 == .notFound)
            }
            // Who exported what, and how many rows.
            let audited = try await server.database.scalar(
                "SELECT action || ' ' || coalesce(after ->> 'rows', after ->> 'format') FROM audit_events WHERE action LIKE '%Export%' ORDER BY sequence",
                as: String.self)
            #expect(
                audited == [
                    "segmentd.v1.SegmentService/ExportSegment csv", "segmentd.v1.SegmentService/ExportSegment ndjson",
                    "segmentd.jobs/Export 3", "segmentd.jobs/Export 3",
                ])
        }
    }

    @Test("a running export cancelled by its caller ends cancelled and leaves no file")
    func cancelRunningExport() async throws {
        try await TestServer.with(backgroundWorker: true) { server in
            try await server.connect { connection in
                try await MembershipTests.seed(server, connection)
                let logger = Logger(label: "test.lock")
                let operation = try await server.database.superuser.withSingleConnection(logger: logger) { lock in
                    // With the members table locked, the export waits inside its query.
                    try await lock.query("BEGIN", logger: logger)
                    try await lock.query("LOCK TABLE segment_members IN ACCESS EXCLUSIVE MODE", logger: logger)
                    let operation = try await connection.segments.exportSegment(
                        .with { $0.name = "\(Self.parent)/segments/buyers" }, metadata: connection.metadata)
                    try await RefreshWorkerProcessTests.waitFor(server.database, "SELECT bool_and(state = 'running') FROM jobs WHERE kind = 'export'")
                    let flagged = try await connection.operations.cancelOperation(.with { $0.name = operation.name }, metadata: connection.metadata)
                    #expect(flagged.state == .running)
                    try await lock.query("COMMIT", logger: logger)
                    return operation
                }
                let final = try await connection.wait(operation: operation.name)
                #expect(final.state == .cancelled && final.attempt == 1, "\(final)")
                #expect((try? FileManager.default.contentsOfDirectory(atPath: Self.exportFolder(server))) ?? [] == [])
            }
        }
    }

    static func exportFolder(_ server: TestServer) -> String {
        server.server.exportDirectory + "/acme"
    }
}
