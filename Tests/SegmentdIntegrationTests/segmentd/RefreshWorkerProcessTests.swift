import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// Refresh workers in real segmentd processes sharing one database.
@Suite("Refresh workers across processes", .serialized, .timeLimit(.minutes(10)))
struct RefreshWorkerProcessTests {
    static let parent = "tenants/default"

    /// Starts segmentd on `database` (migrating and bootstrapping when first).
    static func start(_ database: TestDatabase, home: String, extra: [String] = []) throws -> SegmentdProcess {
        try SegmentdProcess(
            home: home,
            arguments: [
                "--database-url", TestDatabase.url(database.app), "--migration-database-url", TestDatabase.url(database.owner),
            ] + extra)
    }

    /// Holds `FOR UPDATE` locks on segment rows until `body` returns, so refreshes of them block mid-transaction.
    static func holdingLocks<T: Sendable>(
        _ database: TestDatabase, segments: [String], _ body: @Sendable () async throws -> T
    ) async throws -> T {
        let logger = Logger(label: "test.lock")
        return try await database.superuser.withSingleConnection(logger: logger) { connection in
            try await connection.query("BEGIN", logger: logger)
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: "SELECT 1 FROM segments WHERE segment_id IN (\(segments.map { "'\($0)'" }.joined(separator: ","))) FOR UPDATE"),
                logger: logger)
            do {
                let result = try await body()
                try await connection.query("COMMIT", logger: logger)
                return result
            } catch {
                try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// Polls `condition` (a query returning one bool) until true or the deadline. Only for states
    /// the API has no event for (a job running in another process, locks held); completion is
    /// awaited through WaitOperation.
    static func waitFor(_ database: TestDatabase, _ sql: String, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await database.scalar(sql, as: Bool.self).first == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for: \(sql)")
    }

    static func createSegments(_ connection: SegmentdConnection, _ ids: [String]) async throws {
        _ = try await connection.ingestion.ingestEvents(
            .with {
                $0.parent = parent
                $0.events = (0..<20).map { .make("u\($0)", $0 % 2 == 0 ? "purchase" : "app_open") }
            }, metadata: connection.metadata)
        for id in ids {
            _ = try await connection.segments.createSegment(
                .with {
                    $0.parent = parent
                    $0.segmentID = id
                    $0.segment = .with {
                        $0.rule.text = "did purchase"
                        $0.schedule = .with { $0.manual = true }
                    }
                }, metadata: connection.metadata)
        }
    }

    @Test("two processes on one database: each job runs once, and both take work")
    func twoProcessesShareTheWork() async throws {
        let database = try await TestDatabase.create()
        let (home1, home2) = (try TestEnvironment.temporaryDirectory("sgdw1"), try TestEnvironment.temporaryDirectory("sgdw2"))
        defer { for home in [home1, home2] { try? FileManager.default.removeItem(atPath: home) } }
        let first = try Self.start(database, home: home1)
        defer { first.stop() }
        let settings = try await first.waitUntilServing()
        let second = try Self.start(database, home: home2)
        defer { second.stop() }
        var served = try await second.waitUntilServing()
        served.apiKey = settings.apiKey
        let secondSettings = served

        let ids = (1...4).map { "locked_\($0)" } + (1...8).map { "free_\($0)" }
        try await SegmentdConnection.with(settings) { connection in try await Self.createSegments(connection, ids) }
        // With the first four segments locked, each process fills both of its worker slots with
        // blocked refreshes: the only way all four run at once is both processes taking work.
        var operations = try await Self.holdingLocks(database, segments: Array(ids.prefix(4))) {
            var started: [String] = []
            for (index, id) in ids.prefix(4).enumerated() {
                started.append(
                    try await SegmentdConnection.with(index % 2 == 0 ? settings : secondSettings) { connection in
                        try await connection.segments.refreshSegment(
                            .with { $0.name = "\(Self.parent)/segments/\(id)" }, metadata: connection.metadata
                        ).name
                    })
            }
            try await Self.waitFor(database, "SELECT count(*) = 4 AND count(DISTINCT lease_owner) = 2 FROM jobs WHERE state = 'running'")
            return started
        }
        operations += try await SegmentdConnection.with(secondSettings) { connection in
            var started: [String] = []
            for id in ids.dropFirst(4) {
                started.append(
                    try await connection.segments.refreshSegment(.with { $0.name = "\(Self.parent)/segments/\(id)" }, metadata: connection.metadata)
                        .name)
            }
            return started
        }
        // Each finishes (WaitOperation streams it to the end).
        let all = operations
        let states = try await SegmentdConnection.with(secondSettings) { connection in
            var states: [Segmentd_V1_OperationState] = []
            for operation in all { states.append(try await connection.wait(operation: operation).state) }
            return states
        }
        #expect(states == Array(repeating: Segmentd_V1_OperationState.succeeded, count: 12))
        #expect(try await database.scalar("SELECT count(*)::int FROM jobs WHERE attempt <> 1 OR errors <> '[]'", as: Int.self) == [0])
        #expect(try await database.scalar("SELECT count(DISTINCT result ->> 'worker')::int FROM jobs", as: Int.self).first == 2)
        #expect(try await database.scalar("SELECT count(*)::int FROM segment_members", as: Int.self) == [12 * 10])
    }

    @Test("kill -9 during a refresh: after a restart the job is retried and finishes; membership is never half-written")
    func killNineDuringRefresh() async throws {
        let database = try await TestDatabase.create()
        let home = try TestEnvironment.temporaryDirectory("sgdrk")
        defer { try? FileManager.default.removeItem(atPath: home) }
        var segmentd = try Self.start(database, home: home, extra: ["--job-lease-seconds", "5"])
        let settings = try await segmentd.waitUntilServing()
        try await SegmentdConnection.with(settings) { connection in try await Self.createSegments(connection, ["buyers"]) }
        let killed = segmentd
        let refresh = try await Self.holdingLocks(database, segments: ["buyers"]) {
            let refresh = try await SegmentdConnection.with(settings) { connection in
                try await connection.segments.refreshSegment(.with { $0.name = "\(Self.parent)/segments/buyers" }, metadata: connection.metadata)
            }
            try await Self.waitFor(database, "SELECT bool_and(state = 'running') FROM jobs")
            killed.send(SIGKILL)
            #expect(try await killed.waitForExit() == 128 + SIGKILL)
            return refresh
        }
        // Nothing of the interrupted refresh is visible.
        #expect(try await database.scalar("SELECT count(*)::int FROM segment_members", as: Int.self) == [0])
        segmentd = try Self.start(database, home: home, extra: ["--job-lease-seconds", "5"])
        defer { segmentd.stop() }
        var restarted = try await segmentd.waitUntilServing()
        restarted.apiKey = settings.apiKey
        let finished = try await SegmentdConnection.with(restarted) { try await $0.wait(operation: refresh.name) }
        #expect(finished.state == .succeeded)
        #expect(try await database.scalar("SELECT attempt::int FROM jobs", as: Int.self) == [2])
        #expect(try await database.scalar("SELECT errors -> 0 ->> 'code' FROM jobs", as: String.self) == ["LEASE_EXPIRED"])
        #expect(try await database.scalar("SELECT count(*)::int FROM segment_members", as: Int.self) == [10])
        #expect(try await database.scalar("SELECT size::int FROM segments", as: Int.self) == [10])
        segmentd.send(SIGTERM)
        #expect(try await segmentd.waitForExit() == 0)
    }

    @Test("kill -9 during an export: after a restart the job is retried and the file is complete, without duplicates, matching its checksum")
    func killNineDuringExport() async throws {
        let database = try await TestDatabase.create()
        let home = try TestEnvironment.temporaryDirectory("sgdek")
        defer { try? FileManager.default.removeItem(atPath: home) }
        var segmentd = try Self.start(database, home: home, extra: ["--job-lease-seconds", "5"])
        let settings = try await segmentd.waitUntilServing()
        try await SegmentdConnection.with(settings) { connection in
            try await Self.createSegments(connection, ["buyers"])
            let refresh = try await connection.segments.refreshSegment(
                .with { $0.name = "\(Self.parent)/segments/buyers" }, metadata: connection.metadata)
            let finished = try await connection.wait(operation: refresh.name)
            #expect(finished.state == .succeeded)
        }
        let killed = segmentd
        // With the members table locked, the export stops after creating its temporary file.
        let logger = Logger(label: "test.lock")
        let operation = try await database.superuser.withSingleConnection(logger: logger) { connection in
            try await connection.query("BEGIN", logger: logger)
            try await connection.query("LOCK TABLE segment_members IN ACCESS EXCLUSIVE MODE", logger: logger)
            let operation = try await SegmentdConnection.with(settings) { client in
                try await client.segments.exportSegment(.with { $0.name = "\(Self.parent)/segments/buyers" }, metadata: client.metadata)
            }
            try await Self.waitFor(database, "SELECT bool_and(state = 'running') FROM jobs WHERE kind = 'export'")
            killed.send(SIGKILL)
            #expect(try await killed.waitForExit() == 128 + SIGKILL)
            try await connection.query("COMMIT", logger: logger)
            return operation
        }
        segmentd = try Self.start(database, home: home, extra: ["--job-lease-seconds", "5"])
        defer { segmentd.stop() }
        var restarted = try await segmentd.waitUntilServing()
        restarted.apiKey = settings.apiKey
        let final = try await SegmentdConnection.with(restarted) { try await $0.wait(operation: operation.name) }
        #expect(final.attempt == 2 && final.export.rows == 10)
        let folder = home + "/exports/default"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(files == ["\(operation.name.split(separator: "/").last!)-2.csv"], "only the finished attempt's file, no temporary one: \(files)")
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + files[0]))
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        #expect(lines.first == "user_id" && lines.count == 11 && Set(lines.dropFirst()).count == 10)
        #expect(ExportTests.hex(data) == final.export.sha256)
    }
}
