import ArgumentParser
import Foundation
import GRPCCore
import SegmentdAPI
import SegmentdClient
import Synchronization

/// Scenario "membership": CheckMembership (one user, five segments) at a fixed
/// concurrency over TLS, against the standard health check on the same server
/// and connections — the transport's ceiling: an RPC that does no work.
/// Reports calls per second and p50/p99 latency of each.
struct MembershipBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "membership", abstract: "CheckMembership QPS and latency against an empty RPC (health check) on the same server.")

    @Option(help: "segmentd's data directory (segctl.json, the embedded PostgreSQL's socket).") var home: String
    @OptionGroup var demo: DemoDataOptions
    @Option(help: "Calls in flight at once.") var concurrency = 32
    @Option(help: "HTTP/2 connections the calls spread over.") var connections = 4
    @Option(help: "Seconds each measurement runs.") var seconds = 15
    @Option(help: "Seconds each call runs before its measurement (connections, caches, the allocator warm up).") var warmupSeconds = 3
    @Option(help: "segmentd's process id, for its memory.") var pid: Int32?
    @Option(help: "Repository root, where the results are written.") var repository = FileManager.default.currentDirectoryPath
    @Option(help: "The command line to record with the results.") var command = "ops/bench membership"
    @Flag(help: "Skip seeding (the data is already loaded).") var noSeed = false

    /// What one measurement saw.
    struct Measurement {
        var calls: Int
        var seconds: Double
        var p50: Double
        var p99: Double
        var errors: Int
        var qps: Double { Double(calls) / seconds }
    }

    func run() async throws {
        guard let file = try ClientSettings.File.read(home + "/" + ClientSettings.File.fileName), let key = file.apiKey else {
            throw ValidationError("no segctl.json with a key in \(home): start segmentd there first (ops/bench does)")
        }
        let settings = ClientSettings(address: file.address, caPath: file.ca, apiKey: key)
        let tenant = try await SegmentdConnection.with(settings) { try await $0.callerTenant() }
        if !noSeed { try demo.seed(home: home) }
        let shapes = Array(RefreshBenchmark.suite.prefix(5))
        let segments = shapes.map { "\(tenant)/segments/bench_\($0.id)" }
        try await SegmentdConnection.with(settings) { connection in
            for (id, rule) in shapes {
                _ = try? await connection.segments.createSegment(
                    .with {
                        $0.parent = tenant
                        $0.segmentID = "bench_\(id)"
                        $0.segment.rule.text = rule
                        $0.segment.schedule.manual = true
                    }, metadata: connection.metadata)
                let operation = try await connection.segments.refreshSegment(
                    .with { $0.name = "\(tenant)/segments/bench_\(id)" }, metadata: connection.metadata)
                _ = try await connection.wait(operation: operation.name)
            }
        }
        let userCount = demo.resolved.users
        print("health check (the empty RPC) at concurrency \(concurrency) over \(connections) connections, \(seconds) s…")
        let healthCheck: @Sendable (SegmentdConnection, UInt64) async throws -> Void = { connection, _ in
            _ = try await connection.health.check(.with { $0.service = "" })
        }
        _ = try await measure(settings, seconds: warmupSeconds, healthCheck)
        let empty = try await measure(settings, seconds: seconds, healthCheck)
        print(Self.describe("health check", empty))
        print("CheckMembership (1 user × \(segments.count) segments)…")
        let checkMembership: @Sendable (SegmentdConnection, UInt64) async throws -> Void = { connection, random in
            let user = DemoDataGenerator.userID(Int(random % UInt64(userCount)))
            _ = try await connection.membership.checkMembership(
                .with {
                    $0.parent = tenant
                    $0.userID = user
                    $0.segments = segments
                }, metadata: connection.metadata)
        }
        _ = try await measure(settings, seconds: warmupSeconds, checkMembership)
        let check = try await measure(settings, seconds: seconds, checkMembership)
        print(Self.describe("CheckMembership", check))
        var details = demo.details.merging([
            "concurrency": String(concurrency), "connections": String(connections), "seconds": String(seconds),
            "warmup_seconds": String(warmupSeconds),
            "segments_per_check": String(segments.count),
            "check_p50_ms": String(format: "%.2f", check.p50 * 1000), "check_p99_ms": String(format: "%.2f", check.p99 * 1000),
            "empty_p50_ms": String(format: "%.2f", empty.p50 * 1000), "empty_p99_ms": String(format: "%.2f", empty.p99 * 1000),
            "errors": String(check.errors + empty.errors),
        ]) { ours, _ in ours }
        if let pid, let peak = peakResidentMiB(pid: pid) { details["segmentd_peak_rss_mib"] = String(format: "%.0f", peak) }
        try BenchmarkReport.record(
            BenchmarkResult(
                scenario: "membership" + demo.scenarioSuffix, unit: "calls/s", ours: check.qps, reference: empty.qps,
                referenceName: "grpc.health.v1 Check on the same server",
                ratio: check.qps / empty.qps, target: "≥ 0.9× the empty RPC's QPS (issue 9)", details: details),
            command: command, directory: repository)
        print(String(format: "ratio %.2f×", check.qps / empty.qps))
        print("wrote \(repository)/benchmarks/results.json and BENCHMARKS.md")
    }

    static func describe(_ name: String, _ m: Measurement) -> String {
        String(format: "%@: %.0f calls/s, p50 %.2f ms, p99 %.2f ms (%d calls, %d errors)", name, m.qps, m.p50 * 1000, m.p99 * 1000, m.calls, m.errors)
    }

    /// Runs `call` from `concurrency` tasks spread over `connections` connections for `seconds`.
    func measure(
        _ settings: ClientSettings, seconds: Int, _ call: @escaping @Sendable (SegmentdConnection, UInt64) async throws -> Void
    ) async throws -> Measurement {
        let perConnection = max(1, concurrency / connections)
        let duration = Duration.seconds(seconds)
        let collector = Collector()
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for connectionIndex in 0..<connections {
                group.addTask { [settings, perConnection, duration, started, call, collector] in
                    try await SegmentdConnection.with(settings) { connection in
                        // Warm the connection (TLS, HTTP/2) before the clock matters.
                        _ = try await connection.health.check(.with { $0.service = "" })
                        try await withThrowingTaskGroup(of: [Double].self) { workers in
                            for worker in 0..<perConnection {
                                workers.addTask {
                                    var random = SplitMix64(seed: UInt64(connectionIndex * 1000 + worker))
                                    var mine: [Double] = []
                                    while ContinuousClock.now - started < duration {
                                        let t0 = ContinuousClock.now
                                        do {
                                            try await call(connection, random.next())
                                            mine.append(ExportBenchmark.seconds(ContinuousClock.now - t0))
                                        } catch {
                                            collector.errors.add(1, ordering: .relaxed)
                                        }
                                    }
                                    return mine
                                }
                            }
                            for try await mine in workers { collector.latencies.withLock { $0 += mine } }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ExportBenchmark.seconds(ContinuousClock.now - started)
        let sorted = collector.latencies.withLock { $0 }.sorted()
        func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        return Measurement(
            calls: sorted.count, seconds: elapsed, p50: percentile(0.5), p99: percentile(0.99), errors: collector.errors.load(ordering: .relaxed))
    }

    /// Latencies and errors gathered from every worker.
    final class Collector: Sendable {
        let latencies = Mutex<[Double]>([])
        let errors = Atomic<Int>(0)
    }
}
