import ArgumentParser
import Foundation
import Logging
import NIOCore
import PostgresNIO
import SegmentDomain
import SegmentStore
import SegmentdAPI
import SegmentdClient

/// Scenario "ingest": events/s through the public API (gRPC + TLS, batches of
/// 1,000) against a plain `COPY` of the same rows into the same table, with
/// the same indexes, in the same run.
struct IngestBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest", abstract: "Ingest N events over TLS, then COPY the same rows; record both rates.")

    @Option(help: "segmentd's data directory (segctl.json, the embedded PostgreSQL's socket).") var home: String
    @Option(help: "Events to send.") var events = 1_000_000
    @Option(help: "Batches in flight at once.") var concurrency = 8
    @Option(help: "Distinct users.") var users = 100_000
    @Option(help: "segmentd's process id, for its peak memory.") var pid: Int32?
    @Option(help: "Repository root, where the results are written.") var repository = FileManager.default.currentDirectoryPath
    @Option(help: "The command line to record with the results.") var command = "ops/bench ingest"

    static let eventNames = (1...20).map { "event_\($0)" }

    /// Deterministic rows: event i of user i % users, spread over 90 days.
    struct Row {
        let user: Int
        let name: String
        let time: Date
        let amount: Double
        let category: String
        let messageID: String
    }

    func row(_ index: Int, anchor: Date) -> Row {
        let spread = (index &* 7919) % (90 * 86_400)
        return Row(
            user: index % users, name: Self.eventNames[(index &* 31) % 20], time: anchor.addingTimeInterval(-Double(spread) - 60),
            amount: Double(index % 500) + 0.25, category: ["shoes", "bags", "books", "home"][index % 4], messageID: "bench-\(index)")
    }

    func run() async throws {
        guard let file = try ClientSettings.File.read(home + "/" + ClientSettings.File.fileName), let key = file.apiKey else {
            throw ValidationError("no segctl.json with a key in \(home): start segmentd there first (ops/bench does)")
        }
        let settings = ClientSettings(address: file.address, caPath: file.ca, apiKey: key)
        let anchor = Date()
        let batches: [[Segmentd_V1_Event]] = stride(from: 0, to: events, by: 1000).map { start in
            (start..<min(start + 1000, events)).map { index in
                let row = row(index, anchor: anchor)
                return .with {
                    $0.userID = "bench-u\(row.user)"
                    $0.name = row.name
                    $0.time = .init(date: row.time)
                    $0.messageID = row.messageID
                    $0.properties = ["amount": .with { $0.numberValue = row.amount }, "category": .with { $0.stringValue = row.category }]
                }
            }
        }
        print("sending \(events) events in \(batches.count) batches, \(concurrency) in flight…")
        let started = ContinuousClock.now
        let accepted = try await SegmentdConnection.with(settings) { connection in
            let tenant = try await connection.callerTenant()
            return try await withThrowingTaskGroup(of: Int64.self) { group in
                var next = 0
                var total: Int64 = 0
                for _ in 0..<min(concurrency, batches.count) {
                    let batch = batches[next]
                    next += 1
                    group.addTask {
                        try await connection.ingestion.ingestEvents(
                            .with {
                                $0.parent = tenant
                                $0.events = batch
                            }, metadata: connection.metadata
                        ).accepted
                    }
                }
                while let done = try await group.next() {
                    total += done
                    if next < batches.count {
                        let batch = batches[next]
                        next += 1
                        group.addTask {
                            try await connection.ingestion.ingestEvents(
                                .with {
                                    $0.parent = tenant
                                    $0.events = batch
                                }, metadata: connection.metadata
                            ).accepted
                        }
                    }
                }
                return total
            }
        }
        let apiSeconds = Self.seconds(ContinuousClock.now - started)
        guard accepted == events else {
            throw ValidationError("only \(accepted) of \(events) events were accepted (run against a fresh data directory)")
        }
        let apiRate = Double(events) / apiSeconds
        print(String(format: "API: %.1f s, %.0f events/s", apiSeconds, apiRate))

        // The reference: COPY of the same rows into the same (partitioned, indexed) table.
        let logger = Logger(label: "bench")
        let admin = DatabaseSettings.unixSocket(directory: home + "/postgres/run", username: "postgres", database: "segmentd")
        let copySeconds = try await admin.withSingleConnection(logger: logger) { connection in
            try await connection.query(
                "INSERT INTO tenants (tenant_id, display_name) VALUES ('bench-copy', 'COPY reference') ON CONFLICT DO NOTHING", logger: logger)
            try await connection.query("DELETE FROM events WHERE tenant_id = 'bench-copy'", logger: logger)
            let copyStart = ContinuousClock.now
            try await connection.copyFrom(
                table: "events", columns: ["tenant_id", "time", "message_id", "user_index", "event_name", "properties"], logger: logger
            ) { writer in
                let formatter = ISO8601DateFormatter()
                var buffer = ByteBuffer()
                for index in 0..<events {
                    let row = row(index, anchor: anchor)
                    buffer.writeString(
                        "bench-copy\t\(formatter.string(from: row.time))\t\(row.messageID)\t\(row.user + 1)\t\(row.name)\t{\"amount\": \(row.amount), \"category\": \"\(row.category)\"}\n"
                    )
                    if buffer.readableBytes > 1 << 20 {
                        try await writer.write(buffer)
                        buffer.clear()
                    }
                }
                if buffer.readableBytes > 0 { try await writer.write(buffer) }
            }
            let seconds = Self.seconds(ContinuousClock.now - copyStart)
            try await connection.query("DELETE FROM events WHERE tenant_id = 'bench-copy'", logger: logger)
            return seconds
        }
        let copyRate = Double(events) / copySeconds
        print(String(format: "COPY: %.1f s, %.0f events/s; ratio %.2f", copySeconds, copyRate, apiRate / copyRate))

        var details = [
            "events": String(events), "batch": "1000", "in_flight": String(concurrency), "users": String(users),
            "api_seconds": String(format: "%.1f", apiSeconds), "copy_seconds": String(format: "%.1f", copySeconds),
        ]
        if let pid, let peak = peakResidentMiB(pid: pid) { details["segmentd_peak_rss_mib"] = String(format: "%.0f", peak) }
        try BenchmarkReport.record(
            BenchmarkResult(
                scenario: "ingest", unit: "events/s", ours: apiRate, reference: copyRate, referenceName: "PostgreSQL COPY",
                ratio: apiRate / copyRate, target: "≥ 100k events/s and ≥ 0.5× COPY (issue 4); ≥ 0.8× (issue 9)", details: details),
            command: command, directory: repository)
        print("wrote \(repository)/benchmarks/results.json and BENCHMARKS.md")
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
