import Foundation
import Logging
import PostgresNIO
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// The audience engine in a real segmentd killed with SIGKILL: a refresh that
/// evaluated in memory and a load in progress leave memberships the old set or
/// the new one, and the engine reloaded after a restart answers as before.
@Suite("Audience engine across kill -9", .serialized, .timeLimit(.minutes(10)))
struct EngineProcessTests {
    static let parent = RefreshWorkerProcessTests.parent

    /// Refreshes `buyers` and waits for it: the finished operation's result.
    static func refresh(_ settings: ClientSettings) async throws -> Segmentd_V1_RefreshResult {
        try await SegmentdConnection.with(settings) { connection in
            let operation = try await connection.segments.refreshSegment(
                .with { $0.name = "\(Self.parent)/segments/buyers" }, metadata: connection.metadata)
            let done = try await connection.wait(operation: operation.name)
            #expect(done.state == .succeeded, "\(done.error.message)")
            return done.refresh
        }
    }

    /// Refreshes until one is evaluated in memory (the first one starts the background load); that one's result.
    static func refreshInMemory(_ settings: ClientSettings) async throws -> Segmentd_V1_RefreshResult {
        for _ in 0..<100 {
            let result = try await refresh(settings)
            if result.evaluatedBy == "engine" { return result }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the engine never loaded the tenant")
        return Segmentd_V1_RefreshResult()
    }

    static func members(_ database: TestDatabase) async throws -> [String] {
        try await database.scalar(
            "SELECT u.external_id FROM segment_members m JOIN users u USING (tenant_id, user_index) ORDER BY 1", as: String.self)
    }

    @Test("kill -9 during an in-memory refresh, then during the engine's load: memberships are the old or the new set; reloaded, the engine agrees")
    func killNineDuringRefreshAndLoad() async throws {
        let database = try await TestDatabase.create()
        let home = try TestEnvironment.temporaryDirectory("sgdek")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let lease = ["--job-lease-seconds", "5"]
        var segmentd = try RefreshWorkerProcessTests.start(database, home: home, extra: lease)
        let settings = try await segmentd.waitUntilServing()
        try await SegmentdConnection.with(settings) { connection in
            try await RefreshWorkerProcessTests.createSegments(connection, ["buyers"])
            _ = try await connection.tags.createTag(
                .with {
                    $0.parent = Self.parent
                    $0.tagID = "vip"
                }, metadata: connection.metadata)
            _ = try await connection.tags.assignTags(
                .with {
                    $0.parent = Self.parent
                    $0.tags = ["vip"]
                    $0.userIds = ["u1", "u2"]
                }, metadata: connection.metadata)
        }
        let old = try await Self.refreshInMemory(settings)
        let oldMembers = try await Self.members(database)
        #expect(old.size == 10 && oldMembers.count == 10)

        // Two more buyers; the refresh that would add them is killed inside its transaction.
        try await SegmentdConnection.with(settings) { connection in
            _ = try await connection.ingestion.ingestEvents(
                .with {
                    $0.parent = Self.parent
                    $0.events = ["u1", "u3"].map { .make($0, "purchase") }
                }, metadata: connection.metadata)
        }
        let killed = segmentd
        let interrupted = try await RefreshWorkerProcessTests.holdingLocks(database, segments: ["buyers"]) {
            let operation = try await SegmentdConnection.with(settings) { connection in
                try await connection.segments.refreshSegment(.with { $0.name = "\(Self.parent)/segments/buyers" }, metadata: connection.metadata)
            }
            try await RefreshWorkerProcessTests.waitFor(database, "SELECT bool_or(state = 'running') FROM jobs")
            killed.send(SIGKILL)
            #expect(try await killed.waitForExit() == 128 + SIGKILL)
            return operation
        }
        #expect(try await Self.members(database) == oldMembers)

        // Restarted while the tags table is locked: the retried refresh finishes (in SQL) and the
        // engine's load, which reads tags last but one, waits on the lock; it is killed there.
        let expected = (oldMembers + ["u1", "u3"]).sorted()
        let loading = try await Self.holdingTableLock(database, table: "user_tags") {
            let segmentd = try RefreshWorkerProcessTests.start(database, home: home, extra: lease)
            var restarted = try await segmentd.waitUntilServing()
            restarted.apiKey = settings.apiKey
            let finished = try await SegmentdConnection.with(restarted) { try await $0.wait(operation: interrupted.name) }
            #expect(finished.state == .succeeded && finished.refresh.evaluatedBy == "sql")
            #expect(try await Self.members(database) == expected)
            try await RefreshWorkerProcessTests.waitFor(
                database, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FROM user_tags%')")
            segmentd.send(SIGKILL)
            #expect(try await segmentd.waitForExit() == 128 + SIGKILL)
            return restarted
        }
        #expect(try await Self.members(database) == expected)

        // Restarted again: the engine loads, and its refresh changes nothing.
        segmentd = try RefreshWorkerProcessTests.start(database, home: home, extra: lease)
        defer { segmentd.stop() }
        var again = try await segmentd.waitUntilServing()
        again.apiKey = loading.apiKey
        let reloaded = try await Self.refreshInMemory(again)
        #expect(reloaded.size == 12 && reloaded.entered == 0 && reloaded.exited == 0)
        #expect(try await Self.members(database) == expected)
        segmentd.send(SIGTERM)
        #expect(try await segmentd.waitForExit() == 0)
    }

    /// Holds an ACCESS EXCLUSIVE lock on `table` until `body` returns: any read of it waits.
    static func holdingTableLock<T: Sendable>(_ database: TestDatabase, table: String, _ body: @Sendable () async throws -> T) async throws -> T {
        let logger = Logger(label: "test.lock")
        return try await database.superuser.withSingleConnection(logger: logger) { connection in
            try await connection.query("BEGIN", logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "LOCK TABLE \(table) IN ACCESS EXCLUSIVE MODE"), logger: logger)
            do {
                let result = try await body()
                try await connection.query("COMMIT", logger: logger)
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }
}
