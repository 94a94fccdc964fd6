import ArgumentParser
import Crypto
import Foundation
import GRPCCore
import Logging
import SegmentdAPI
import SegmentdClient

/// Scenario "refresh": a fixed suite of rules covering every criterion kind,
/// each refreshed by segmentd and computed by DuckDB (2 threads) from the same
/// raw data exported to CSV. The member sets must be identical (count and
/// SHA-256 of the sorted external ids) before any time counts; then the median
/// of segmentd's refresh times (computing and writing membership, as the job
/// reports it) stands against DuckDB's (computing and materializing the set).
struct RefreshBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh", abstract: "Refresh a suite of rules in segmentd and in DuckDB on the same data; identical members, then times.")

    @Option(help: "segmentd's data directory (segctl.json, the embedded PostgreSQL's socket).") var home: String
    @OptionGroup var demo: DemoDataOptions
    @Option(help: "Refreshes of each rule (the median counts).") var repeats = 3
    @Option(help: "Segments of the suite's shapes refreshed together afterwards (scenario refresh_many; 0 skips it).") var many = 100
    @Option(help: "segmentd's process id, for its memory.") var pid: Int32?
    @Option(help: "Repository root, where the results are written.") var repository = FileManager.default.currentDirectoryPath
    @Option(help: "The command line to record with the results.") var command = "ops/bench refresh"
    @Option(help: "The Python with duckdb (ops/bench makes a virtual environment).") var python = "python3"
    @Flag(help: "Skip seeding (the data is already loaded).") var noSeed = false

    /// The suite: every criterion kind (docs/rules.md), in the order refreshed (r11 reads r03's members).
    static let suite: [(id: String, rule: String)] = [
        ("r01_count_window", "did app_open at least 5 times in last 30d"),
        ("r02_property_filter", "did purchase in last 60d where amount > 200"),
        ("r03_sum_aggregate", "sum(purchase.amount) in last 30d >= 300"),
        ("r04_did_not", "did view_item at least 3 times in last 14d and did not purchase in last 14d"),
        ("r05_profile", "profile.tier in [\"gold\", \"platinum\"] and profile.age between 25 and 40"),
        ("r06_responses", "clicked any campaign in last 30d"),
        ("r07_tags", "has tag vip or has tag beta"),
        ("r08_location", "within 25km of (41.01, 28.97)"),
        ("r09_first_time", "first time did app_open was in last 14d"),
        ("r10_nested", "(did add_to_cart in last 7d or opened last campaign) and not (did purchase in last 7d or has tag newsletter)"),
        ("r11_segment_reference", "in segment bench_r03_sum_aggregate and profile.language = \"tr\""),
        ("r12_avg_filtered", "avg(purchase.amount) where currency = \"EUR\" between 50 and 150"),
    ]

    func run() async throws {
        guard let file = try ClientSettings.File.read(home + "/" + ClientSettings.File.fileName), let key = file.apiKey else {
            throw ValidationError("no segctl.json with a key in \(home): start segmentd there first (ops/bench does)")
        }
        let settings = ClientSettings(address: file.address, caPath: file.ca, apiKey: key)
        let tenant = try await SegmentdConnection.with(settings) { try await $0.callerTenant() }
        let tenantID = String(tenant.dropFirst("tenants/".count))
        if !noSeed { try demo.seed(home: home) }
        let events = try ExportBenchmark.psqlScalar(home: home, sql: "SELECT count(*) FROM events WHERE tenant_id = '\(tenantID)'")
        print("\(events) events")

        let engineLoad = try await Self.waitForEngine(settings: settings, tenant: tenant)
        print(engineLoad.map { String(format: "the engine loaded the tenant in %.1f s after the first refresh asked", $0) } ?? "refreshes run in SQL")

        print("refreshing the suite in segmentd (\(repeats)× each)…")
        var ours: [String: (seconds: Double, count: Int, sha256: String, evaluatedAt: String)] = [:]
        var selectShares: [String] = []
        var serverSeconds: [String] = []
        var paths: Set<String> = []
        try await SegmentdConnection.with(settings) { connection in
            for (id, rule) in Self.suite {
                let name = "\(tenant)/segments/bench_\(id)"
                _ = try? await connection.segments.createSegment(
                    .with {
                        $0.parent = tenant
                        $0.segmentID = "bench_\(id)"
                        $0.segment.rule.text = rule
                        $0.segment.schedule.manual = true
                    }, metadata: connection.metadata)
                var times: [Double] = []
                var jobTimes: [Double] = []
                var last = Segmentd_V1_Operation()
                for _ in 0..<repeats {
                    // The refresh as a caller sees it: from the request to the operation seen done.
                    let started = ContinuousClock.now
                    let operation = try await connection.segments.refreshSegment(.with { $0.name = name }, metadata: connection.metadata)
                    last = try await connection.wait(operation: operation.name)
                    guard last.state == .succeeded else { throw ValidationError("\(id): the refresh ended \(last.state): \(last.error.message)") }
                    times.append(ExportBenchmark.seconds(ContinuousClock.now - started))
                    jobTimes.append(Double(last.refresh.durationMs) / 1000)
                    paths.insert(last.refresh.evaluatedBy)
                }
                serverSeconds.append(String(format: "%@ %.3f", String(id.prefix(3)), Self.median(jobTimes)))
                let jobID = String(last.name.split(separator: "/").last ?? "")
                let evaluatedAt = try ExportBenchmark.psqlScalar(
                    home: home, sql: "SELECT result ->> 'evaluated_at' FROM jobs WHERE tenant_id = '\(tenantID)' AND job_id = \(jobID)")
                // Where the refresh's time went: the rule's query (select_ms) and the rest (writing the membership).
                let selectMilliseconds = try ExportBenchmark.psqlScalar(
                    home: home, sql: "SELECT coalesce(result ->> 'select_ms', '?') FROM jobs WHERE tenant_id = '\(tenantID)' AND job_id = \(jobID)")
                selectShares.append("\(id.prefix(3)) \(selectMilliseconds)/\(last.refresh.durationMs)")
                let request = ClientRequest(
                    message: Segmentd_V1_StreamSegmentMembersRequest.with {
                        $0.segment = name
                        $0.chunkSize = 10_000
                    }, metadata: connection.metadata)
                let ids = try await connection.membership.streamSegmentMembers(request: request) { response in
                    var ids: [String] = []
                    for try await chunk in response.messages { ids += chunk.userIds }
                    return ids
                }
                ours[id] = (Self.median(times), ids.count, Self.digest(ids), evaluatedAt)
                print(String(format: "  %@: %d members, %.3f s", id, ids.count, Self.median(times)))
            }
        }
        let peak = pid.flatMap { peakResidentMiB(pid: $0) }

        print("exporting the raw data for DuckDB…")
        let data = NSTemporaryDirectory() + "segmentd-bench-refresh"
        try? FileManager.default.removeItem(atPath: data)
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        let t = "'\(tenantID)'"
        for (file, sql) in [
            ("users", "SELECT user_index, external_id FROM users WHERE tenant_id = \(t)"),
            (
                "events",
                "SELECT user_index, event_name, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), properties::text FROM events WHERE tenant_id = \(t)"
            ),
            ("profiles", "SELECT user_index, attributes::text, last_latitude, last_longitude FROM profiles WHERE tenant_id = \(t)"),
            (
                "responses",
                "SELECT user_index, campaign_id, kind, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM campaign_responses WHERE tenant_id = \(t)"
            ),
            (
                "campaigns",
                "SELECT campaign_id, to_char(first_send_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM campaigns WHERE tenant_id = \(t)"
            ),
            ("tags", "SELECT tag_id, user_index FROM user_tags WHERE tenant_id = \(t)"),
        ] {
            _ = try ExportBenchmark.psqlCopy(home: home, sql: "COPY (\(sql)) TO STDOUT WITH (FORMAT csv, HEADER)", output: "\(data)/\(file).csv")
        }
        let nows = data + "/nows.json"
        try JSONSerialization.data(withJSONObject: ours.mapValues { $0.evaluatedAt }).write(to: URL(fileURLWithPath: nows))

        print("computing the suite in DuckDB (2 threads)…")
        let output = try PredictiveBenchmark.runTool(
            python, [repository + "/benchmarks/refresh_reference.py", data, nows, "2", String(repeats)], environment: [:])
        guard let reference = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
            throw ValidationError("unexpected output from the reference script: \(output)")
        }
        var mismatches: [String] = []
        var rows: [(id: String, ours: Double, theirs: Double)] = []
        for (id, _) in Self.suite {
            guard let theirs = reference[id] as? [String: Any], let count = theirs["count"] as? Int, let sha = theirs["sha256"] as? String,
                let seconds = theirs["seconds"] as? Double, let mine = ours[id]
            else { throw ValidationError("\(id) is missing from a result") }
            if count != mine.count || sha != mine.sha256 { mismatches.append("\(id): segmentd \(mine.count) members, DuckDB \(count)") }
            rows.append((id, mine.seconds, seconds))
            print(
                String(
                    format: "  %@: segmentd %.3f s, DuckDB %.3f s (%.2f×) — %d members %@", id, mine.seconds, seconds, seconds / mine.seconds,
                    count, count == mine.count && sha == mine.sha256 ? "identical" : "DIFFERENT"))
        }
        guard mismatches.isEmpty else {
            throw ValidationError("the member sets differ, so no time counts:\n" + mismatches.joined(separator: "\n") + "\n(data kept in \(data))")
        }
        let oursMedian = Self.median(rows.map(\.ours))
        let theirsMedian = Self.median(rows.map(\.theirs))
        var details = demo.details.merging([
            "events": events, "rules": String(rows.count), "repeats": String(repeats),
            "members_identical": "all \(rows.count) (count and SHA-256)", "duckdb": reference["versions"] as? String ?? "",
            "duckdb_load_seconds": String(format: "%.1f", reference["load_seconds"] as? Double ?? 0),
            "per_rule_select_ms_of_total_ms": selectShares.joined(separator: ", "),
            "per_rule_job_seconds": serverSeconds.joined(separator: ", "),
            "evaluated_by": paths.sorted().joined(separator: "+"), "timed": "request to operation done, as the caller sees it",
            "per_rule_seconds_ours_vs_duckdb": rows.map { String(format: "%@ %.3f/%.3f", String($0.id.prefix(3)), $0.ours, $0.theirs) }.joined(
                separator: ", "),
        ]) { ours, _ in ours }
        if let peak { details["segmentd_peak_rss_mib"] = String(format: "%.0f", peak) }
        if let engineLoad { details["engine_load_seconds"] = String(format: "%.1f", engineLoad) }
        try BenchmarkReport.record(
            BenchmarkResult(
                scenario: "refresh" + demo.scenarioSuffix, unit: "s (median rule)", ours: oursMedian, reference: theirsMedian,
                referenceName: "DuckDB, 2 threads",
                ratio: theirsMedian / oursMedian, target: "t_duckdb / t_segmentd ≥ 1 on the median rule, aim for 3 (issue 17)", details: details),
            command: command, directory: repository)
        print(String(format: "median rule: segmentd %.3f s, DuckDB %.3f s: %.2f×", oursMedian, theirsMedian, theirsMedian / oursMedian))

        // Scenario "refresh_many": 100 segments of the suite's shapes, refreshed together (BatchRefreshSegments).
        guard many > 0 else { return }
        let shapes = Self.suite.filter { $0.id != "r11_segment_reference" }
        print("refreshing \(many) segments of the suite's shapes together…")
        let (wall, again, failed) = try await SegmentdConnection.with(settings) { connection -> (Double, Double, Int) in
            var names: [String] = []
            for index in 0..<many {
                let shape = shapes[index % shapes.count]
                let id = "bench_many_\(index)"
                _ = try? await connection.segments.createSegment(
                    .with {
                        $0.parent = tenant
                        $0.segmentID = id
                        $0.segment.rule.text = shape.rule
                        $0.segment.schedule.manual = true
                    }, metadata: connection.metadata)
                names.append("\(tenant)/segments/\(id)")
            }
            // Twice: new segments write every member; the second time only who entered or left.
            var rounds: [Double] = []
            var failed = 0
            for _ in 0..<2 {
                let started = ContinuousClock.now
                // One batch: evaluated at one instant, each condition the rules share evaluated once.
                let operations = try await connection.segments.batchRefreshSegments(
                    .with {
                        $0.parent = tenant
                        $0.names = names
                    }, metadata: connection.metadata
                ).operations.map(\.name)
                for operation in operations where try await connection.wait(operation: operation).state != .succeeded { failed += 1 }
                rounds.append(ExportBenchmark.seconds(ContinuousClock.now - started))
            }
            return (rounds[0], rounds[1], failed)
        }
        guard failed == 0 else { throw ValidationError("\(failed) of \(many) refreshes failed") }
        // DuckDB's figure: the same 100 rules one after another, from the suite's per-rule times.
        let duckdbSeconds = (0..<many).reduce(0.0) { total, index in total + (rows.first { $0.id == shapes[index % shapes.count].id }?.theirs ?? 0) }
        print(
            String(
                format: "%d new segments in %.1f s (%.1f segments/s), again in %.1f s; DuckDB computes the same rules one by one in %.1f s",
                many, wall, Double(many) / wall, again, duckdbSeconds))
        var manyDetails = [
            "segments": String(many), "wall_seconds": String(format: "%.1f", wall), "events": events,
            "again_wall_seconds": String(format: "%.1f", again),
            "note": "wall_seconds: new segments (every member written); again_wall_seconds: the same 100 refreshed again (only differences)",
            "duckdb_sequential_seconds": String(format: "%.1f", duckdbSeconds),
        ].merging(demo.details) { ours, _ in ours }
        if let pid, let peak = peakResidentMiB(pid: pid) { manyDetails["segmentd_peak_rss_mib"] = String(format: "%.0f", peak) }
        try BenchmarkReport.record(
            BenchmarkResult(
                scenario: "refresh_many" + demo.scenarioSuffix, unit: "segments/s", ours: Double(many) / wall,
                reference: Double(many) / max(duckdbSeconds, 0.001),
                referenceName: "DuckDB, the same rules one after another", ratio: duckdbSeconds / wall,
                target: "≤ DuckDB's time for the same rules one after another, aim for 10× faster (issue 17)", details: manyDetails),
            command: command, directory: repository)
        print("wrote \(repository)/benchmarks/results.json and BENCHMARKS.md")
    }

    /// Refreshes a warm-up segment until the audience engine serves it (the first refresh
    /// starts the tenant's load in the background); seconds that took, nil when refreshes
    /// stay in SQL (the engine is off, or the tenant is over its budget) for 10 minutes.
    static func waitForEngine(settings: ClientSettings, tenant: String) async throws -> Double? {
        try await SegmentdConnection.with(settings) { connection in
            let name = "\(tenant)/segments/bench_warmup"
            _ = try? await connection.segments.createSegment(
                .with {
                    $0.parent = tenant
                    $0.segmentID = "bench_warmup"
                    $0.segment.rule.text = "did app_open in last 1d"
                    $0.segment.schedule.manual = true
                }, metadata: connection.metadata)
            let started = ContinuousClock.now
            while ContinuousClock.now - started < .seconds(600) {
                let operation = try await connection.segments.refreshSegment(.with { $0.name = name }, metadata: connection.metadata)
                let done = try await connection.wait(operation: operation.name)
                if done.refresh.evaluatedBy == "engine" { return ExportBenchmark.seconds(ContinuousClock.now - started) }
                try await Task.sleep(for: .seconds(1))
            }
            return nil
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// SHA-256 of the ids sorted bytewise, each followed by a newline (as the reference script hashes them).
    static func digest(_ ids: [String]) -> String {
        let sorted = ids.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
        var hasher = SHA256()
        for id in sorted {
            hasher.update(data: id)
            hasher.update(data: [10])
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
