import ArgumentParser
import Foundation
import GRPCCore
import SegmentdAPI
import SegmentdClient
import Synchronization

/// Scenario "realtime": 20 real-time segments (the refresh suite's 12 shapes, 7
/// variants and a probe, `did bench_probe in last 1m`) while events arrive through
/// IngestEvents at a stepped rate. Each batch carries one probe event for a new
/// user: the time from the batch's acknowledgement to that user's ENTERED change
/// on a WatchSegmentChanges stream (and, for every 10th batch, to CheckMembership
/// answering member) is the freshness. Every probe user leaves a minute after its
/// event: the time from that edge to the EXITED change is the exit lateness. At the
/// end, replaying the change log from position 0 must give every segment's members,
/// and a refresh (a full evaluation) of each must change nothing. segmentd runs on
/// the same machine, so the client's wall clock is the server's.
struct RealtimeFreshnessBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realtime", abstract: "Real-time segments: freshness under sustained ingest, window exits, exactness.")

    @Option(help: "segmentd's data directory (segctl.json, the embedded PostgreSQL's socket).") var home: String
    @OptionGroup var demo: DemoDataOptions
    @Option(help: "Ingest rates to step through, events per second, comma-separated.") var rates = "2000,5000,10000,20000"
    @Option(help: "Seconds each rate runs.") var stepSeconds = 15
    @Option(help: "Events per IngestEvents call (one of them the probe).") var batch = 500
    @Option(help: "Ingest connections in parallel.") var connections = 4
    @Option(help: "segmentd's process id, for its memory.") var pid: Int32?
    @Option(help: "Repository root, where the results are written.") var repository = FileManager.default.currentDirectoryPath
    @Option(help: "The command line to record with the results.") var command = "ops/bench realtime"
    @Flag(help: "Skip seeding (the data is already loaded).") var noSeed = false

    static let probeWindow: TimeInterval = 60

    /// The 20 segments: the suite (r11 references the real-time r03), variants of its shapes, and the probe.
    static func segments() -> [(id: String, rule: String)] {
        let suite = RefreshBenchmark.suite.map { shape in
            (id: "bench_rt_\(shape.id)", rule: shape.rule.replacingOccurrences(of: "bench_r03_sum_aggregate", with: "bench_rt_r03_sum_aggregate"))
        }
        let variants = [
            ("bench_rt_v1_carts_24h", "did add_to_cart in last 24h and not did purchase in last 24h"),
            ("bench_rt_v2_views_1h", "did view_item at least 2 times in last 1h"),
            ("bench_rt_v3_spend_7d", "sum(purchase.amount) in last 7d >= 100"),
            ("bench_rt_v4_active_today", "did app_open today"),
            ("bench_rt_v5_lapsed", "did app_open and not did app_open in last 7d"),
            ("bench_rt_v6_big_carts", "did add_to_cart in last 2h where price > 50"),
            ("bench_rt_v7_vip_buyers", "in segment bench_rt_v3_spend_7d and has tag vip"),
        ]
        return suite + variants.map { (id: $0.0, rule: $0.1) } + [(id: "bench_rt_probe", rule: "did bench_probe in last 1m")]
    }

    /// What the watch saw of probe users: when each entered and exited (client clock), and the exits' stamps.
    final class Seen: Sendable {
        struct State {
            var entered: [String: Date] = [:]
            var exited: [String: (received: Date, effective: Date)] = [:]
        }
        let state = Mutex(State())
    }

    /// What a step's senders share.
    final class StepState: Sendable {
        let next = Atomic<Int>(0)
        let errors = Atomic<Int>(0)
        let probes = Mutex<[(user: String, time: Date, acked: Date)]>([])
        let checks = Mutex<[Double]>([])
    }

    /// One step's measurements.
    struct Step {
        var rate: Int
        var sent = 0
        var seconds = 0.0
        var errors = 0
        var watch: [Double] = []
        var check: [Double] = []
        var sustained: Double { Double(sent) / seconds }
    }

    func run() async throws {
        guard let file = try ClientSettings.File.read(home + "/" + ClientSettings.File.fileName), let key = file.apiKey else {
            throw ValidationError("no segctl.json with a key in \(home): start segmentd there first (ops/bench does)")
        }
        let settings = ClientSettings(address: file.address, caPath: file.ca, apiKey: key)
        let tenant = try await SegmentdConnection.with(settings) { try await $0.callerTenant() }
        if !noSeed { try demo.seed(home: home) }
        let userCount = demo.resolved.users
        let probe = "\(tenant)/segments/bench_rt_probe"
        let started = Date()
        try await SegmentdConnection.with(settings) { connection in
            for (id, rule) in Self.segments() {
                _ = try await connection.segments.createSegment(
                    .with {
                        $0.parent = tenant
                        $0.segmentID = id
                        $0.segment.rule.text = rule
                        $0.segment.schedule.manual = true
                        $0.segment.realTime = true
                    }, metadata: connection.metadata)
            }
        }
        // Kept once a probe user enters (the tenant's audience loaded, every segment evaluated whole).
        print("20 real-time segments created; waiting until they are kept…")
        let ready = try await Self.probeLatency(settings, tenant: tenant, probe: probe, user: "probe-ready", timeout: 600)
        print(String(format: "kept %.1f s after creation", Date().timeIntervalSince(started)))
        _ = ready

        let seen = Seen()
        let watcher = Task {
            try await SegmentdConnection.with(settings) { connection in
                let request = ClientRequest(
                    message: Segmentd_V1_WatchSegmentChangesRequest.with {
                        $0.parent = tenant
                        $0.segments = [probe]
                    }, metadata: connection.metadata)
                try await connection.membership.watchSegmentChanges(request: request) { response in
                    for try await message in response.messages {
                        let now = Date()
                        seen.state.withLock { state in
                            for change in message.changes {
                                if change.kind == .entered {
                                    state.entered[change.userID] = now
                                } else {
                                    state.exited[change.userID] = (now, change.effectiveTime.date)
                                }
                            }
                        }
                    }
                }
            }
        }
        try await Task.sleep(for: .seconds(1))

        var steps: [Step] = []
        var probes: [(user: String, time: Date, acked: Date)] = []
        var counter = 0
        for rate in rates.split(separator: ",").compactMap({ Int($0) }) {
            print("ingesting at \(rate) events/s for \(stepSeconds) s…")
            let (step, sentProbes) = try await ingestStep(
                settings, tenant: tenant, probe: probe, rate: rate, users: userCount, seen: seen, firstProbe: counter)
            counter += sentProbes.count
            probes += sentProbes
            steps.append(step)
            print(Self.describe(step))
        }
        print("waiting \(Int(Self.probeWindow) + 15) s for the probe users to leave…")
        try await Task.sleep(for: .seconds(Int(Self.probeWindow) + 15))
        watcher.cancel()

        // Exits: how long after its window edge each probe user's EXITED change arrived.
        let state = seen.state.withLock { $0 }
        var lateness: [Double] = []
        var stampErrors: [Double] = []
        for probeUser in probes {
            guard let exit = state.exited[probeUser.user] else { continue }
            let edge = probeUser.time.addingTimeInterval(Self.probeWindow)
            lateness.append(exit.received.timeIntervalSince(edge))
            stampErrors.append(abs(exit.effective.timeIntervalSince(edge)))
        }
        lateness.sort()
        let missingExits = probes.count - lateness.count
        print(
            String(
                format: "exits: %d of %d probe users; lateness p50 %.0f ms, p99 %.0f ms, max %.0f ms; later than 1 s: %d; stamp error max %.3f ms",
                lateness.count, probes.count, Self.percentile(lateness, 0.5) * 1000, Self.percentile(lateness, 0.99) * 1000,
                (lateness.last ?? 0) * 1000, lateness.filter { $0 > 1 }.count, (stampErrors.max() ?? 0) * 1000))

        // Exactness: the log replayed equals the members; a full evaluation changes nothing.
        let (replayEqual, refreshChanges) = try await exactness(settings, tenant: tenant)
        print("replayed log equals members for \(replayEqual) of 20 segments; refreshes (full evaluations) changed \(refreshChanges) memberships")

        let best = steps.last { $0.watch.count > 0 } ?? steps[0]
        var details = demo.details.merging([
            "segments": "20 real-time (12 suite shapes, 7 variants, 1 probe: did bench_probe in last 1m)",
            "batch": String(batch), "connections": String(connections), "step_seconds": String(stepSeconds),
            "curve": steps.map {
                String(
                    format: "%d→%.0f/s watch p50 %.0f p99 %.0f ms, check p50 %.0f p99 %.0f ms", $0.rate, $0.sustained,
                    Self.percentile($0.watch.sorted(), 0.5) * 1000, Self.percentile($0.watch.sorted(), 0.99) * 1000,
                    Self.percentile($0.check.sorted(), 0.5) * 1000, Self.percentile($0.check.sorted(), 0.99) * 1000)
            }.joined(separator: "; "),
            "max_sustained_events_per_s": String(format: "%.0f", steps.map(\.sustained).max() ?? 0),
            "exits": String(lateness.count), "exits_missing": String(missingExits),
            "exit_lateness_p50_ms": String(format: "%.0f", Self.percentile(lateness, 0.5) * 1000),
            "exit_lateness_p99_ms": String(format: "%.0f", Self.percentile(lateness, 0.99) * 1000),
            "exit_lateness_max_ms": String(format: "%.0f", (lateness.last ?? 0) * 1000),
            "exits_later_than_1s": String(lateness.filter { $0 > 1 }.count),
            "exit_stamp_error_max_ms": String(format: "%.3f", (stampErrors.max() ?? 0) * 1000),
            "replay_equals_members": "\(replayEqual)/20", "refresh_differences": String(refreshChanges),
            "errors": String(steps.reduce(0) { $0 + $1.errors }),
        ]) { ours, _ in ours }
        if let pid, let peak = peakResidentMiB(pid: pid) { details["segmentd_peak_rss_mib"] = String(format: "%.0f", peak) }
        let p99 = Self.percentile(best.watch.sorted(), 0.99) * 1000
        try BenchmarkReport.record(
            BenchmarkResult(
                scenario: "realtime" + demo.scenarioSuffix, unit: "ms p99 ack→watch", ours: p99, reference: 1000,
                referenceName: String(format: "the 1 s target, at %.0f events/s sustained", best.sustained),
                ratio: 1000 / max(p99, 0.001), target: "p99 < 1 s at 20k events/s, aim < 100 ms; exits within 1 s; exact (issue 18)",
                details: details),
            command: command, directory: repository)
        print("wrote \(repository)/benchmarks/results.json and BENCHMARKS.md")
    }

    /// Ingests at `rate` for `stepSeconds`: each batch is random demo users' events and one probe user's.
    func ingestStep(
        _ settings: ClientSettings, tenant: String, probe: String, rate: Int, users: Int, seen: Seen, firstProbe: Int
    ) async throws -> (Step, [(user: String, time: Date, acked: Date)]) {
        let batchesPerSecond = max(1, Double(rate) / Double(batch))
        let totalBatches = Int(batchesPerSecond * Double(stepSeconds))
        let shared = StepState()
        let start = ContinuousClock.now
        let batchSize = batch
        try await withThrowingTaskGroup(of: Void.self) { group in
            for connectionIndex in 0..<connections {
                group.addTask {
                    var random = SplitMix64(seed: UInt64(firstProbe * 31 + connectionIndex))
                    try await SegmentdConnection.with(settings) { connection in
                        while true {
                            let index = shared.next.add(1, ordering: .relaxed).oldValue
                            if index >= totalBatches { return }
                            // Paced: batch i goes at i / batchesPerSecond.
                            let due = start + .milliseconds(Int64(Double(index) / batchesPerSecond * 1000))
                            if due > .now { try await Task.sleep(until: due, clock: .continuous) }
                            let user = "probe-\(firstProbe + index)"
                            let now = Date()
                            var events: [Segmentd_V1_Event] = (1..<batchSize).map { _ in
                                Self.randomEvent(&random, users: users, at: now)
                            }
                            events.append(
                                .with {
                                    $0.userID = user
                                    $0.name = "bench_probe"
                                    $0.time = .init(date: now)
                                })
                            do {
                                _ = try await connection.ingestion.ingestEvents(
                                    .with {
                                        $0.parent = tenant
                                        $0.events = events
                                    }, metadata: connection.metadata)
                            } catch {
                                shared.errors.add(1, ordering: .relaxed)
                                continue
                            }
                            let acked = Date()
                            shared.probes.withLock { $0.append((user, now, acked)) }
                            if index % 10 == 0 {
                                if let latency = try? await Self.probeLatency(
                                    settings, tenant: tenant, probe: probe, user: user, timeout: 30, connection: connection, after: acked)
                                {
                                    shared.checks.withLock { $0.append(latency) }
                                }
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = ExportBenchmark.seconds(ContinuousClock.now - start)
        // Give the last batches' changes a moment to arrive before reading the watch.
        try await Task.sleep(for: .seconds(3))
        let probes = shared.probes.withLock { $0 }
        let entered = seen.state.withLock { $0.entered }
        var step = Step(rate: rate, sent: probes.count * batch, seconds: seconds, errors: shared.errors.load(ordering: .relaxed))
        step.watch = probes.compactMap { probe in entered[probe.user].map { $0.timeIntervalSince(probe.acked) } }
        step.check = shared.checks.withLock { $0 }
        return (step, probes)
    }

    /// A demo user's event of the suite's types, now.
    static func randomEvent(_ random: inout SplitMix64, users: Int, at time: Date) -> Segmentd_V1_Event {
        let user = DemoDataGenerator.userID(Int(random.next() % UInt64(users)))
        let kind = random.next() % 10
        return .with {
            $0.userID = user
            $0.time = .init(date: time)
            switch kind {
            case 0..<4:
                $0.name = "app_open"
                $0.properties = ["platform": .with { $0.stringValue = "ios" }]
            case 4..<7:
                $0.name = "view_item"
                $0.properties = ["category": .with { $0.stringValue = "shoes" }]
            case 7..<9:
                $0.name = "add_to_cart"
                $0.properties = [
                    "category": .with { $0.stringValue = "shoes" }, "price": .with { $0.numberValue = Double(random.next() % 120) },
                ]
            default:
                $0.name = "purchase"
                $0.properties = [
                    "amount": .with { $0.numberValue = Double(random.next() % 400) }, "currency": .with { $0.stringValue = "EUR" },
                    "category": .with { $0.stringValue = "shoes" },
                ]
            }
        }
    }

    /// Ingests (unless `after` is given: already ingested then) one probe event for `user` and
    /// polls CheckMembership until the user is a member: the seconds from the acknowledgement.
    static func probeLatency(
        _ settings: ClientSettings, tenant: String, probe: String, user: String, timeout: TimeInterval,
        connection existing: SegmentdConnection? = nil, after acked: Date? = nil
    ) async throws -> Double {
        func poll(_ connection: SegmentdConnection) async throws -> Double {
            var since = acked
            if since == nil {
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = tenant
                        $0.events = [
                            .with {
                                $0.userID = user
                                $0.name = "bench_probe"
                            }
                        ]
                    }, metadata: connection.metadata)
                since = Date()
            }
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let answer = try await connection.membership.checkMembership(
                    .with {
                        $0.parent = tenant
                        $0.userID = user
                        $0.segments = [probe]
                    }, metadata: connection.metadata)
                if answer.results.first?.member == true { return Date().timeIntervalSince(since!) }
                try await Task.sleep(for: .milliseconds(2))
            }
            throw ValidationError("\(user) did not enter \(probe) within \(Int(timeout)) s")
        }
        if let existing { return try await poll(existing) }
        return try await SegmentdConnection.with(settings) { try await poll($0) }
    }

    /// Replays the whole change log per segment and compares with each segment's members; then
    /// refreshes each segment (a full evaluation) and counts what that changed.
    func exactness(_ settings: ClientSettings, tenant: String) async throws -> (replayEqual: Int, refreshChanges: Int64) {
        try await SegmentdConnection.with(settings) { connection in
            // The latest position first (a heartbeat of a watch from now says it), then everything up to it.
            let replayed = Mutex<[String: Set<String>]>([:])
            var through: Int64 = 0
            let latest = try await Self.latestPosition(connection, tenant: tenant)
            while through < latest {
                let from = through
                let request = ClientRequest(
                    message: Segmentd_V1_WatchSegmentChangesRequest.with {
                        $0.parent = tenant
                        $0.afterPosition = from
                    }, metadata: connection.metadata)
                through = try await connection.membership.watchSegmentChanges(request: request) { response in
                    var position = from
                    for try await message in response.messages {
                        replayed.withLock { replayed in
                            for change in message.changes {
                                let segment = String(change.segment.split(separator: "/").last ?? "")
                                if change.kind == .entered {
                                    replayed[segment, default: []].insert(change.userID)
                                } else {
                                    replayed[segment, default: []].remove(change.userID)
                                }
                            }
                        }
                        position = max(position, message.position)
                        if position >= latest { break }
                    }
                    return position
                }
            }
            let replay = replayed.withLock { $0 }
            var equal = 0
            for (id, _) in Self.segments() {
                let request = ClientRequest(
                    message: Segmentd_V1_StreamSegmentMembersRequest.with { $0.segment = "\(tenant)/segments/\(id)" }, metadata: connection.metadata)
                let members = try await connection.membership.streamSegmentMembers(request: request) { response in
                    var ids = Set<String>()
                    for try await chunk in response.messages { ids.formUnion(chunk.userIds) }
                    return ids
                }
                if members == replay[id, default: []] {
                    equal += 1
                } else {
                    print("replay differs for \(id): \(members.count) members, \(replay[id, default: []].count) replayed")
                }
            }
            var changes: Int64 = 0
            for (id, _) in Self.segments() {
                let operation = try await connection.segments.refreshSegment(
                    .with { $0.name = "\(tenant)/segments/\(id)" }, metadata: connection.metadata)
                let done = try await connection.wait(operation: operation.name)
                changes += done.refresh.entered + done.refresh.exited
                if done.refresh.entered + done.refresh.exited > 0 {
                    print("refresh of \(id) changed \(done.refresh.entered) in, \(done.refresh.exited) out")
                }
            }
            return (equal, changes)
        }
    }

    /// The tenant's latest change position, from the first message of a watch from now.
    static func latestPosition(_ connection: SegmentdConnection, tenant: String) async throws -> Int64 {
        let request = ClientRequest(
            message: Segmentd_V1_WatchSegmentChangesRequest.with {
                $0.parent = tenant
                $0.heartbeatSeconds = 1
            }, metadata: connection.metadata)
        return try await connection.membership.watchSegmentChanges(request: request) { response in
            for try await message in response.messages { return message.position }
            return 0
        }
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    static func describe(_ step: Step) -> String {
        let watch = step.watch.sorted()
        let check = step.check.sorted()
        return String(
            format:
                "  %d events/s asked, %.0f sustained; ack→watch p50 %.0f ms p99 %.0f ms (%d probes); ack→check p50 %.0f ms p99 %.0f ms (%d); %d errors",
            step.rate, step.sustained, percentile(watch, 0.5) * 1000, percentile(watch, 0.99) * 1000, watch.count,
            percentile(check, 0.5) * 1000, percentile(check, 0.99) * 1000, check.count, step.errors)
    }
}
