import ArgumentParser
import Foundation
import GRPCCore
import Logging
import PostgresNIO
import SegmentDomain
import SegmentStore
import SegmentdAPI
import SegmentdClient

/// Scenario "export": a segment of N members with two attributes exported to
/// CSV through the export operation and downloaded over TLS, against psql's
/// `COPY (…) TO STDOUT` of the same rows; with segmentd's resident memory
/// before and at its peak, to show the export does not hold members in memory.
struct ExportBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export N members through the API, then COPY the same rows; record both and segmentd's memory.")

    @Option(help: "segmentd's data directory (segctl.json, the embedded PostgreSQL's socket).") var home: String
    @Option(help: "Members of the exported segment.") var members = 1_000_000
    @Option(help: "segmentd's process id, for its memory.") var pid: Int32?
    @Option(help: "Repository root, where the results are written.") var repository = FileManager.default.currentDirectoryPath
    @Option(help: "The command line to record with the results.") var command = "ops/bench export"

    func run() async throws {
        guard let file = try ClientSettings.File.read(home + "/" + ClientSettings.File.fileName), let key = file.apiKey else {
            throw ValidationError("no segctl.json with a key in \(home): start segmentd there first (ops/bench does)")
        }
        let settings = ClientSettings(address: file.address, caPath: file.ca, apiKey: key)
        let logger = Logger(label: "bench")
        let admin = DatabaseSettings.unixSocket(directory: home + "/postgres/run", username: "postgres", database: "segmentd")
        let tenant = try await SegmentdConnection.with(settings) { try await $0.callerTenant() }
        let tenantID = String(tenant.dropFirst("tenants/".count))

        print("creating \(members) users with profiles…")
        try await SegmentdConnection.with(settings) { connection in
            _ = try await connection.segments.createSegment(
                .with {
                    $0.parent = tenant
                    $0.segmentID = "bench_export"
                    $0.segment.rule.text = "has tag bench"
                    $0.segment.schedule.manual = true
                }, metadata: connection.metadata)
        }
        try await admin.withSingleConnection(logger: logger) { connection in
            for sql in [
                "INSERT INTO users (tenant_id, user_index, external_id) SELECT '\(tenantID)', g, 'bench-user-' || g FROM generate_series(1, \(members)) g",
                """
                INSERT INTO profiles (tenant_id, user_index, attributes)
                SELECT '\(tenantID)', g, jsonb_build_object('tier', (ARRAY['bronze','silver','gold','platinum'])[1 + g % 4], 'city', 'City ' || (g % 97))
                FROM generate_series(1, \(members)) g
                """,
                "INSERT INTO segment_members (tenant_id, segment_id, user_index) SELECT '\(tenantID)', 'bench_export', g FROM generate_series(1, \(members)) g",
                "UPDATE segments SET size = \(members) WHERE tenant_id = '\(tenantID)' AND segment_id = 'bench_export'",
                "ANALYZE users", "ANALYZE profiles", "ANALYZE segment_members",
            ] {
                try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
            }
        }
        let rssBefore = pid.flatMap { residentMiB(pid: $0, field: "VmRSS:") }
        let peakBefore = pid.flatMap { peakResidentMiB(pid: $0) }

        print("exporting through the API…")
        let output = NSTemporaryDirectory() + "segmentd-bench-export.csv"
        let started = ContinuousClock.now
        let (rows, bytes, jobSeconds, downloadSeconds) = try await SegmentdConnection.with(settings) { connection -> (Int64, Int64, Double, Double) in
            let operation = try await connection.segments.exportSegment(
                .with {
                    $0.name = "\(tenant)/segments/bench_export"
                    $0.attributes = ["tier", "city"]
                }, metadata: connection.metadata)
            let final = try await connection.wait(operation: operation.name)
            guard final.state == .succeeded else { throw ValidationError("the export ended \(final.state): \(final.error.message)") }
            let jobSeconds = final.endTime.date.timeIntervalSince(final.startTime.date)
            let downloadStarted = ContinuousClock.now
            FileManager.default.createFile(atPath: output, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            defer { try? handle.close() }
            let request = ClientRequest(
                message: Segmentd_V1_DownloadExportRequest.with { $0.name = final.export.export }, metadata: connection.metadata)
            try await connection.segments.downloadExport(request: request) { response in
                for try await chunk in response.messages { try handle.write(contentsOf: chunk.data) }
            }
            return (final.export.rows, final.export.bytes, jobSeconds, Self.seconds(ContinuousClock.now - downloadStarted))
        }
        let apiSeconds = Self.seconds(ContinuousClock.now - started)
        guard rows == Int64(members) else { throw ValidationError("exported \(rows) rows, expected \(members)") }
        let peakAfter = pid.flatMap { peakResidentMiB(pid: $0) }

        print("COPY TO STDOUT through psql…")
        let copyStarted = ContinuousClock.now
        let copyBytes = try Self.psqlCopy(
            home: home,
            sql: """
                COPY (SELECT u.external_id AS user_id, coalesce(p.attributes ->> 'tier', '') AS tier, coalesce(p.attributes ->> 'city', '') AS city
                      FROM segment_members m JOIN users u USING (tenant_id, user_index)
                      LEFT JOIN profiles p USING (tenant_id, user_index)
                      WHERE m.tenant_id = '\(tenantID)' AND m.segment_id = 'bench_export' ORDER BY m.user_index)
                TO STDOUT WITH (FORMAT csv, HEADER)
                """, output: NSTemporaryDirectory() + "segmentd-bench-copy.csv")
        let copySeconds = Self.seconds(ContinuousClock.now - copyStarted)
        let apiRate = Double(members) / apiSeconds
        let copyRate = Double(members) / copySeconds
        print(
            String(
                format: "API: %.1f s (%.0f rows/s, %lld bytes); COPY: %.1f s (%.0f rows/s, %lld bytes); ratio %.2f",
                apiSeconds, apiRate, bytes, copySeconds, copyRate, copyBytes, apiRate / copyRate))
        var details = [
            "members": String(members), "api_seconds": String(format: "%.1f", apiSeconds),
            "copy_seconds": String(format: "%.1f", copySeconds), "bytes": String(bytes),
            "export_job_seconds": String(format: "%.1f", jobSeconds), "download_seconds": String(format: "%.1f", downloadSeconds),
        ]
        if let rssBefore { details["segmentd_rss_before_mib"] = String(format: "%.0f", rssBefore) }
        if let peakBefore { details["segmentd_peak_before_export_mib"] = String(format: "%.0f", peakBefore) }
        if let peakAfter { details["segmentd_peak_after_export_mib"] = String(format: "%.0f", peakAfter) }
        try BenchmarkReport.record(
            BenchmarkResult(
                scenario: "export", unit: "rows/s", ours: apiRate, reference: copyRate, referenceName: "psql COPY (…) TO STDOUT",
                ratio: apiRate / copyRate, target: "≥ 1× COPY (issue 9); memory flat (issue 7)", details: details),
            command: command, directory: repository)
        print("wrote \(repository)/benchmarks/results.json and BENCHMARKS.md")
        try? FileManager.default.removeItem(atPath: output)
    }

    /// Runs psql as the postgres user's socket client; returns the bytes written.
    static func psqlCopy(home: String, sql: String, output: String) throws -> Int64 {
        let candidates =
            (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted().reversed()
            .map { "/usr/lib/postgresql/\($0)/bin/psql" } ?? []
        guard let psql = (candidates + ["/usr/bin/psql"]).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ValidationError("psql not found")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: psql)
        process.arguments = ["-X", "-q", "-h", home + "/postgres/run", "-U", "postgres", "-d", "segmentd", "-c", sql, "-o", output]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("psql exited with \(process.terminationStatus)") }
        return Int64((try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0)
    }

    /// The first column of the first row of `sql`, as text (psql on the embedded socket).
    static func psqlScalar(home: String, sql: String) throws -> String {
        let output = NSTemporaryDirectory() + "segmentd-bench-scalar-\(getpid()).txt"
        defer { try? FileManager.default.removeItem(atPath: output) }
        _ = try psqlCopy(home: home, sql: "COPY (\(sql)) TO STDOUT", output: output)
        return (try String(contentsOfFile: output, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// A memory field of /proc/<pid>/status in MiB (`VmRSS:`, `VmHWM:`).
func residentMiB(pid: Int32, field: String) -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
        let kib = Double(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "")
    else { return nil }
    return kib / 1024
}
