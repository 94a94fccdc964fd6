import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// Refreshes queued together — a BatchRefreshSegments call, a schedule tick, a
/// segment's dependents — are evaluated at one instant: their memberships are
/// one consistent cut, and a condition that depends on the time (a rolling or
/// calendar window, "… ago") is evaluated once for all of them, as conditions
/// only the data decides already were.
@Suite("Refreshes queued together: one instant, shared time-dependent conditions", .timeLimit(.minutes(5)))
struct BatchRefreshTests {
    static let start = RuleDifferentialTests.now

    static func configure(_ configuration: inout UseCases.Configuration, clock: ManualWallClock) {
        EngineRefreshTests.configure(&configuration)
        configuration.clock = { clock.now() }
    }

    static func operation(_ name: String, _ connection: SegmentdConnection) async throws -> Segmentd_V1_Operation {
        try await connection.operations.getOperation(.with { $0.name = name }, metadata: connection.metadata)
    }

    static func batch(_ ids: [String], server: TestServer, connection: SegmentdConnection) async throws -> [String] {
        try await connection.segments.batchRefreshSegments(
            .with {
                $0.parent = "tenants/\(server.tenant)"
                $0.names = ids
            }, metadata: connection.metadata
        ).operations.map(\.name)
    }

    @Test("a batch evaluates at the instant it was asked, in memory, each time-dependent condition once, with SQL's members at that instant")
    func batchSharesInstant() async throws {
        let data = RuleTestData(seed: 11, users: 150, now: Self.start)
        let clock = ManualWallClock(Self.start)
        try await TestServer.with(configure: { Self.configure(&$0, clock: clock) }) { server in
            try await RuleDifferentialTests.load(data, into: server)
            let registry = try #require(server.server.audiences)
            try await server.connect { connection in
                let rules = [
                    ("recent", "did purchase in last 30d"),
                    ("recent_vips", "did purchase in last 30d and has tag vip"),
                    ("recent_or_gold", "did purchase in last 30d or profile.tier = \"gold\""),
                    ("this_month", "did app_open this month or did purchase in last 30d"),
                ]
                for (id, rule) in rules {
                    _ = try await SegmentLifecycleTests.create(connection, id, rule, schedule: .with { $0.manual = true })
                }
                #expect(try await EngineRefreshTests.refresh(["recent"], server: server, connection: connection) == ["sql"])
                await registry.waitForLoad(server.tenant)

                let asked = clock.now()
                let operations = try await Self.batch(rules.map(\.0), server: server, connection: connection)
                #expect(operations.count == rules.count && Set(operations).count == rules.count)
                // The worker runs the jobs later: they still evaluate at the batch's instant.
                clock.advance(by: 40)
                let before = try #require(await registry.audience(for: server.tenant)).conditions.counts
                try await server.worker.drain()
                let after = try #require(await registry.audience(for: server.tenant)).conditions.counts
                for name in operations {
                    let done = try await Self.operation(name, connection)
                    #expect(done.state == .succeeded && done.refresh.evaluatedBy == "engine", "\(name): \(done.error.message)")
                    #expect(done.refresh.evaluatedAt.date.timeIntervalSince(asked).magnitude < 0.000_001, "\(name) evaluated at the batch's instant")
                }
                // "did purchase in last 30d" appears in all four rules: evaluated once, reused three times.
                #expect(after.reused - before.reused >= 3, "\(before) → \(after)")
                // SQL's members at the batch's instant (the clock has moved on since).
                let parsed = try rules.map { ($0.0, try RuleText.parse($0.1)) }
                let store = server.server.ruleStore
                let context = try await store.context(tenant: server.tenant, now: asked)
                for (id, rule) in parsed {
                    let written = try await server.database.scalar(
                        "SELECT user_index FROM segment_members WHERE segment_id = '\(id)' ORDER BY 1", as: Int64.self)
                    #expect(written == (try await store.memberIndexes(rule, tenant: server.tenant, context: context, now: asked)), "\(id)")
                }

                // A refresh on its own evaluates at its own instant; so does a batch's job that waited past the lag.
                let single = try await connection.segments.refreshSegment(
                    .with { $0.name = "tenants/\(server.tenant)/segments/recent" }, metadata: connection.metadata)
                try await server.worker.drain()
                #expect(try await Self.operation(single.name, connection).refresh.evaluatedAt.date == clock.now())
                let late = try await Self.batch(["recent"], server: server, connection: connection)
                clock.advance(by: 301)
                try await server.worker.drain()
                #expect(try await Self.operation(late[0], connection).refresh.evaluatedAt.date == clock.now())
            }
        }
    }

    @Test("a schedule tick's refreshes and a segment's dependents evaluate at one instant")
    func tickAndDependents() async throws {
        let clock = ManualWallClock(Self.start)
        try await TestServer.with(configure: { $0.clock = { clock.now() } }) { server in
            try await server.connect { connection in
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = "tenants/\(server.tenant)"
                        $0.events = [.make("u1", "purchase", at: clock.now()), .make("u2", "app_open", at: clock.now())]
                    }, metadata: connection.metadata)
                let hourly = Segmentd_V1_Schedule.with { $0.everyHours = 1 }
                _ = try await SegmentLifecycleTests.create(connection, "buyers", "did purchase in last 7d", schedule: hourly)
                _ = try await SegmentLifecycleTests.create(connection, "openers", "did app_open in last 7d", schedule: hourly)
                _ = try await SegmentLifecycleTests.create(
                    connection, "idle_buyers", "in segment buyers and not did app_open in last 1d",
                    schedule: .with {
                        $0.manual = true
                        $0.afterDependencies = true
                    })
                let tick = clock.now()
                #expect(try await server.server.segmentStore.enqueueDueRefreshes() == 2)
                clock.advance(by: 20)
                try await server.worker.drain()
                let jobs = try await connection.operations.listOperations(
                    .with { $0.parent = "tenants/\(server.tenant)" }, metadata: connection.metadata
                ).operations.filter { $0.kind == .refresh }
                #expect(jobs.count == 3, "two scheduled, one dependent")
                for job in jobs {
                    #expect(job.refresh.evaluatedAt.date.timeIntervalSince(tick).magnitude < 0.000_001, "\(job.target)")
                }
                #expect(try await RefreshTests.members(server, "idle_buyers") == ["u1"])
            }
        }
    }

    @Test(
        "a batch is all or nothing: a missing or paused segment, a name twice, none or too many are refused and enqueue nothing; a pending refresh is shared"
    )
    func batchRefusals() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                for id in ["a", "b", "c"] {
                    _ = try await SegmentLifecycleTests.create(connection, id, "did purchase", schedule: .with { $0.manual = true })
                }
                _ = try await connection.segments.pauseSegment(
                    .with { $0.name = "tenants/\(server.tenant)/segments/c" }, metadata: connection.metadata)
                let cases: [([String], RPCError.Code)] = [
                    (["a", "nope"], .notFound), (["a", "c"], .failedPrecondition), (["a", "tenants/\(server.tenant)/segments/a"], .invalidArgument),
                    ([], .invalidArgument), ((0..<1001).map { "s\($0)" }, .invalidArgument), (["tenants/other/segments/a"], .notFound),
                ]
                for (names, code) in cases {
                    let refused = await SegmentLifecycleTests.code { _ = try await Self.batch(names, server: server, connection: connection) }
                    #expect(refused.0 == code, "\(names.prefix(3)): \(refused)")
                }
                let pending = try await server.database.scalar("SELECT count(*)::int8 FROM jobs WHERE kind = 'refresh'", as: Int64.self)
                #expect(pending == [0], "nothing was enqueued")
                let single = try await connection.segments.refreshSegment(
                    .with { $0.name = "tenants/\(server.tenant)/segments/a" }, metadata: connection.metadata)
                let batch = try await Self.batch(["b", "tenants/\(server.tenant)/segments/a"], server: server, connection: connection)
                #expect(batch[1] == single.name && batch[0] != single.name, "a's pending refresh is shared")
                try await server.worker.drain()
                for name in batch { #expect(try await Self.operation(name, connection).state == .succeeded) }
            }
        }
    }
}
