import Foundation
import GRPCCore
import GRPCProtobuf
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("Refresh: one job per segment, membership by difference, history, pause, schedules", .timeLimit(.minutes(5)))
struct RefreshTests {
    static let parent = "tenants/acme"
    static func name(_ id: String) -> String { "\(parent)/segments/\(id)" }

    static func members(_ server: TestServer, _ segment: String) async throws -> [String] {
        try await server.database.scalar(
            """
            SELECT u.external_id FROM segment_members m JOIN users u USING (tenant_id, user_index)
            WHERE m.segment_id = '\(segment)' ORDER BY 1
            """, as: String.self)
    }

    @Test("50 concurrent requests make one job; the refresh writes the difference and the history")
    func refresh() async throws {
        let clock = ManualWallClock(Date(timeIntervalSince1970: 1_795_617_000))
        try await TestServer.with(configure: { $0.clock = { clock.now() } }) { server in
            try await server.connect { connection in
                let now = clock.now()
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = Self.parent
                        $0.events =
                            ["u1", "u2", "u3"].map { .make($0, "purchase", at: now.addingTimeInterval(-3600)) } + [.make("u4", "app_open", at: now)]
                    }, metadata: connection.metadata)
                _ = try await SegmentLifecycleTests.create(connection, "buyers", "did purchase in last 7d", schedule: .with { $0.manual = true })

                let operations = try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<50 {
                        group.addTask {
                            try await connection.segments.refreshSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata).name
                        }
                    }
                    return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                }
                #expect(operations.count == 1, "\(operations)")
                #expect(try await server.database.scalar("SELECT count(*)::int FROM jobs", as: Int.self) == [1])
                let queued = try await connection.operations.getOperation(.with { $0.name = operations.first! }, metadata: connection.metadata)
                #expect(queued.state == .queued && !queued.done && queued.kind == .refresh && queued.target == Self.name("buyers"))

                try await server.worker.drain()
                let done = try await connection.operations.getOperation(.with { $0.name = operations.first! }, metadata: connection.metadata)
                #expect(done.state == .succeeded && done.done && done.attempt == 1)
                #expect(done.refresh.size == 3 && done.refresh.entered == 3 && done.refresh.exited == 0)
                // The job's result splits the time: the rule's query, within the whole refresh.
                let timings = try await server.database.scalar(
                    "SELECT (result ->> 'select_ms')::int8 || '/' || (result ->> 'duration_ms')::int8 FROM jobs", as: String.self)
                let parts = timings.first?.split(separator: "/").compactMap { Int64($0) } ?? []
                #expect(parts.count == 2 && parts[0] >= 0 && parts[0] <= parts[1] && parts[1] == done.refresh.durationMs, "\(timings)")
                #expect(try await Self.members(server, "buyers") == ["u1", "u2", "u3"])
                let segment = try await connection.segments.getSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                #expect(segment.size == 3 && segment.lastRefresh.outcome == "succeeded" && segment.lastRefresh.operation == operations.first!)

                // u1's purchase ages out, u4 buys: one exits, one enters.
                clock.advance(by: 7 * 86_400 - 1800)
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = Self.parent
                        $0.events = [
                            .make("u4", "purchase", at: clock.now()), .make("u2", "purchase", at: clock.now()),
                            .make("u3", "purchase", at: clock.now()),
                        ]
                    }, metadata: connection.metadata)
                _ = try await server.database.scalar(
                    "UPDATE events SET time = time - interval '1 day' WHERE user_index = (SELECT user_index FROM users WHERE external_id = 'u1') RETURNING 1",
                    as: Int.self)
                _ = try await connection.segments.refreshSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                try await server.worker.drain()
                #expect(try await Self.members(server, "buyers") == ["u2", "u3", "u4"])
                let history = try await connection.segments.listSegmentSizeHistory(
                    .with { $0.name = Self.name("buyers") }, metadata: connection.metadata
                ).points
                #expect(history.map(\.size) == [3, 3])
                #expect(history.map(\.entered) == [1, 3])
                #expect(history.map(\.exited) == [1, 0])
                let listed = try await connection.operations.listOperations(
                    .with {
                        $0.parent = Self.parent
                        $0.target = Self.name("buyers")
                    }, metadata: connection.metadata)
                #expect(listed.operations.count == 2 && listed.operations.allSatisfy { $0.state == .succeeded })
            }
        }
    }

    @Test("a paused segment keeps its members, refuses a manual refresh and is skipped by its schedule")
    func paused() async throws {
        let clock = ManualWallClock(Date(timeIntervalSince1970: 1_795_617_000))
        try await TestServer.with(configure: { $0.clock = { clock.now() } }) { server in
            try await server.connect { connection in
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = Self.parent
                        $0.events = [.make("u1", "purchase", at: clock.now())]
                    }, metadata: connection.metadata)
                _ = try await SegmentLifecycleTests.create(connection, "buyers", "did purchase", schedule: .with { $0.everyHours = 6 })
                _ = try await connection.segments.refreshSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                try await server.worker.drain()
                _ = try await connection.segments.pauseSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                let refused = await SegmentLifecycleTests.code {
                    _ = try await connection.segments.refreshSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                }
                #expect(refused.0 == .failedPrecondition && refused.2 == "SEGMENT_PAUSED" && refused.1.contains("paused"), "\(refused)")
                clock.advance(by: 7 * 3600)
                #expect(try await server.server.segmentStore.enqueueDueRefreshes() == 0)
                #expect(try await Self.members(server, "buyers") == ["u1"])
                // Resumed, it is due again at its next slot.
                _ = try await connection.segments.resumeSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                #expect(try await server.server.segmentStore.enqueueDueRefreshes() == 0)
                clock.advance(by: 6 * 3600 + 1)
                #expect(try await server.server.segmentStore.enqueueDueRefreshes() == 1)
                #expect(try await server.server.segmentStore.enqueueDueRefreshes() == 0, "moved to the next slot")
                try await server.worker.drain()
                let segment = try await connection.segments.getSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                #expect(segment.lastRefresh.outcome == "succeeded" && segment.size == 1)
            }
        }
    }

    @Test("a segment that follows its dependencies refreshes after them; deleted segments are purged after the retention")
    func dependenciesAndPurge() async throws {
        let clock = ManualWallClock(Date(timeIntervalSince1970: 1_795_617_000))
        try await TestServer.with(configure: { $0.clock = { clock.now() } }) { server in
            try await server.connect { connection in
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = Self.parent
                        $0.events = [.make("u1", "purchase", at: clock.now()), .make("u2", "app_open", at: clock.now())]
                    }, metadata: connection.metadata)
                _ = try await SegmentLifecycleTests.create(connection, "buyers", "did purchase", schedule: .with { $0.manual = true })
                _ = try await SegmentLifecycleTests.create(
                    connection, "not_buyers", "not in segment buyers",
                    schedule: .with {
                        $0.manual = true
                        $0.afterDependencies = true
                    })
                _ = try await connection.segments.refreshSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                try await server.worker.drain()
                #expect(try await Self.members(server, "buyers") == ["u1"])
                #expect(try await Self.members(server, "not_buyers") == ["u2"], "refreshed after its dependency")

                #expect(
                    try await server.database.scalar("SELECT count(*)::int8 FROM membership_changes WHERE segment_id = 'not_buyers'", as: Int64.self)
                        == [1], "u2 entered")
                // Deleted, then purged once the retention has passed, with its changes; the id is free again.
                _ = try await connection.segments.deleteSegment(.with { $0.name = Self.name("not_buyers") }, metadata: connection.metadata)
                clock.advance(by: 29 * 86_400)
                #expect(try await server.server.segmentStore.purgeExpired() == 0)
                clock.advance(by: 86_400 + 1)
                #expect(try await server.server.segmentStore.purgeExpired() == 1)
                #expect(
                    await SegmentLifecycleTests.code {
                        _ = try await connection.segments.getSegment(.with { $0.name = Self.name("not_buyers") }, metadata: connection.metadata)
                    }.0 == .notFound)
                #expect(try await Self.members(server, "not_buyers").isEmpty)
                #expect(
                    try await server.database.scalar("SELECT count(*)::int8 FROM membership_changes WHERE segment_id = 'not_buyers'", as: Int64.self)
                        == [0], "the purge deletes the segment's changes")
                _ = try await SegmentLifecycleTests.create(connection, "not_buyers", "has tag vip")
            }
        }
    }

    @Test("a failed refresh keeps the previous membership, shows the error on the segment, and is retried later")
    func failedRefresh() async throws {
        try await TestServer.with(configure: { $0.evaluationTimeout = .milliseconds(1) }) { server in
            try await server.connect { connection in
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = Self.parent
                        $0.events = [.make("u1", "purchase")]
                    }, metadata: connection.metadata)
                // Hundreds of windowed scans: more than the 1 ms evaluation budget.
                let rule = (0..<150).map { "did purchase at least \($0 % 5) times in last \($0 + 1)d" }.joined(separator: " or ")
                _ = try await SegmentLifecycleTests.create(connection, "heavy", rule, schedule: .with { $0.manual = true })
                _ = try await server.database.scalar(
                    "INSERT INTO segment_members (tenant_id, segment_id, user_index) SELECT tenant_id, 'heavy', user_index FROM users RETURNING 1",
                    as: Int.self)
                let operation = try await connection.segments.refreshSegment(.with { $0.name = Self.name("heavy") }, metadata: connection.metadata)
                try await server.worker.drain()
                let failed = try await connection.operations.getOperation(.with { $0.name = operation.name }, metadata: connection.metadata)
                #expect(failed.state == .retrying && failed.error.code == "TOO_EXPENSIVE", "\(failed)")
                let segment = try await connection.segments.getSegment(.with { $0.name = Self.name("heavy") }, metadata: connection.metadata)
                #expect(segment.lastRefresh.outcome == "failed" && segment.lastRefresh.error.contains("time limit"), "\(segment.lastRefresh)")
                #expect(try await Self.members(server, "heavy") == ["u1"], "the previous membership is kept")
            }
        }
    }

    @Test("daily schedules fire at the time of day in their zone")
    func dailySchedule() throws {
        // 2026-11-25T14:30Z is 17:30 in Istanbul: the next 03:00 there is 2026-11-26T00:00Z.
        let schedule = SegmentSchedule(cadence: .daily(hour: 3, minute: 0, timeZone: "Europe/Istanbul"))
        let next = try #require(schedule.next(after: Date(timeIntervalSince1970: 1_795_617_000)))
        #expect(next == Date(timeIntervalSince1970: 1_795_651_200))
        #expect(SegmentSchedule(cadence: .everyHours(6)).next(after: next) == next.addingTimeInterval(6 * 3600))
        #expect(SegmentSchedule(cadence: .manual).next(after: next) == nil)
    }
}
