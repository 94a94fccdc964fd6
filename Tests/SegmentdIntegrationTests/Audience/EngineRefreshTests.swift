import Foundation
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// Refreshes through the audience engine: a tenant loads on first use (that
/// refresh runs in SQL), later refreshes evaluate in memory with exactly SQL's
/// members, and every change to the tenant's data is applied to the loaded
/// state before the next refresh evaluates — so a refresh always sees every
/// batch acknowledged before it began.
@Suite("Audience engine: refreshes in memory when the tenant is loaded, with every change applied", .timeLimit(.minutes(5)))
struct EngineRefreshTests {
    static let now = RuleDifferentialTests.now

    static func configure(_ configuration: inout UseCases.Configuration, budget: Int = 256 << 20) {
        configuration.clock = { now }
        configuration.engineMemoryBudget = budget
        configuration.engineReloadInterval = .zero
    }

    /// Refreshes `ids` one after another; each operation's `evaluated_by`.
    static func refresh(_ ids: [String], server: TestServer, connection: SegmentdConnection) async throws -> [String] {
        var paths: [String] = []
        for id in ids {
            let operation = try await connection.segments.refreshSegment(
                .with { $0.name = "tenants/\(server.tenant)/segments/\(id)" }, metadata: connection.metadata)
            try await server.worker.drain()
            let done = try await connection.operations.getOperation(.with { $0.name = operation.name }, metadata: connection.metadata)
            #expect(done.state == .succeeded, "\(id): \(done.error.message)")
            paths.append(done.refresh.evaluatedBy)
        }
        return paths
    }

    static func members(_ server: TestServer, _ id: String) async throws -> [String] {
        try await RefreshTests.members(server, id)
    }

    /// Expects each segment's written members to be the SQL compiler's selection of its
    /// rule now; returns how many have members.
    @discardableResult
    static func expectWrittenAsSQL(_ rules: [(id: String, rule: Rule)], server: TestServer, moment: String = "") async throws -> Int {
        let store = server.server.ruleStore
        let context = try await store.context(tenant: server.tenant, now: now)
        var nonEmpty = 0
        for (id, rule) in rules {
            let written = try await server.database.scalar(
                "SELECT user_index FROM segment_members WHERE segment_id = '\(id)' ORDER BY 1", as: Int64.self)
            let selected = try await store.memberIndexes(rule, tenant: server.tenant, context: context, now: now)
            #expect(written == selected, "\(moment)\(id): \(RuleText.print(rule))")
            if !written.isEmpty { nonEmpty += 1 }
        }
        return nonEmpty
    }

    @Test("loaded: random rules refresh in memory with the members SQL selects; a purchase acknowledged just before is seen")
    func engineAgreesWithSQL() async throws {
        let data = RuleTestData(seed: 3, users: 150, now: Self.now)
        try await TestServer.with(configure: { Self.configure(&$0) }) { server in
            try await RuleDifferentialTests.load(data, into: server)
            let registry = try #require(server.server.audiences)
            try await server.connect { connection in
                var ids: [String] = []
                var rules: [String: Rule] = [:]
                for seed in UInt64(1)...40 where ids.count < 20 {
                    var generator = RandomRules(seed: seed, vocabulary: RuleTestData.vocabulary(now: Self.now))
                    generator.maxDepth = 3
                    let rule = generator.rule()
                    let created = try? await connection.segments.createSegment(
                        .with {
                            $0.parent = "tenants/\(server.tenant)"
                            $0.segmentID = "r\(seed)"
                            $0.segment = .with {
                                $0.rule = .with { $0.text = RuleText.print(rule) }
                                $0.schedule = .with { $0.manual = true }
                            }
                        }, metadata: connection.metadata)
                    if created != nil {
                        ids.append("r\(seed)")
                        rules["r\(seed)"] = rule
                    }
                }
                for (id, rule) in [("buyers", "did purchase in last 30d"), ("vip_buyers", "in segment buyers and has tag vip")] {
                    _ = try await SegmentLifecycleTests.create(connection, id, rule, schedule: .with { $0.manual = true })
                    ids.append(id)
                    rules[id] = try RuleText.parse(rule)
                }
                #expect(ids.count == 22)

                // Not loaded yet: SQL, and the first refresh starts the load.
                #expect(try await Self.refresh([ids[0]], server: server, connection: connection) == ["sql"])
                await registry.waitForLoad(server.tenant)
                #expect(await registry.loadedTenants == [server.tenant])

                // Loaded and current: in memory, with exactly the members the SQL compiler selects.
                #expect(try await Self.refresh(ids, server: server, connection: connection).allSatisfy { $0 == "engine" })
                #expect(try await Self.expectWrittenAsSQL(ids.map { ($0, rules[$0]!) }, server: server) > 5)
                let store = server.server.ruleStore
                let context = try await store.context(tenant: server.tenant, now: Self.now)
                // Segments refreshed one after another share the conditions only the data decides.
                let conditions = try #require(await registry.audience(for: server.tenant)).conditions.counts
                #expect(conditions.reused > 0 && conditions.evaluated > 0, "\(conditions)")

                // A new rule (no data changed): the engine writes only who entered and who left.
                let before = Set(try await Self.members(server, "buyers"))
                _ = try await connection.segments.updateSegment(
                    .with {
                        $0.segment = .with {
                            $0.name = "tenants/\(server.tenant)/segments/buyers"
                            $0.rule = .with { $0.text = "did purchase in last 7d or has tag beta" }
                        }
                        $0.updateMask = .with { $0.paths = ["rule"] }
                    }, metadata: connection.metadata)
                let operation = try await connection.segments.refreshSegment(
                    .with { $0.name = "tenants/\(server.tenant)/segments/buyers" }, metadata: connection.metadata)
                try await server.worker.drain()
                let done = try await connection.operations.getOperation(.with { $0.name = operation.name }, metadata: connection.metadata)
                let after = Set(try await Self.members(server, "buyers"))
                #expect(done.refresh.evaluatedBy == "engine")
                #expect(
                    done.refresh.entered == Int64(after.subtracting(before).count) && done.refresh.exited == Int64(before.subtracting(after).count))
                #expect(done.refresh.entered > 0 && done.refresh.exited > 0 && done.refresh.size == Int64(after.count))
                let selected = try await store.memberIndexes(
                    try RuleText.parse("did purchase in last 7d or has tag beta"), tenant: server.tenant, context: context, now: Self.now)
                #expect(
                    try await server.database.scalar(
                        "SELECT user_index FROM segment_members WHERE segment_id = 'buyers' ORDER BY 1", as: Int64.self) == selected)
                let changes = try await server.database.scalar(
                    "SELECT count(*)::int8 FROM membership_changes WHERE segment_id = 'buyers' AND job_id = \(operation.name.split(separator: "/").last!)",
                    as: Int64.self)
                #expect(changes == [done.refresh.entered + done.refresh.exited])

                // A purchase arrives: the next refresh sees it, in memory (the state caught up first).
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = "tenants/\(server.tenant)"
                        $0.events = [.make("late_buyer", "purchase", at: Self.now.addingTimeInterval(-3600))]
                    }, metadata: connection.metadata)
                #expect(try await Self.refresh(["buyers", "vip_buyers"], server: server, connection: connection) == ["engine", "engine"])
                #expect(try await Self.members(server, "buyers").contains("late_buyer"))
                #expect(await registry.audience(for: server.tenant)?.overlay.count == 1)
            }
        }
    }

    @Test("every kind of change is applied to a loaded state before the next refresh: events, profiles, responses, locations, tags, erasure")
    func everyChangeIsSeen() async throws {
        try await TestServer.with(configure: { Self.configure(&$0) }) { server in
            let registry = try #require(server.server.audiences)
            let parent = "tenants/\(server.tenant)"
            try await server.connect { connection in
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = parent
                        $0.events = ["u1", "u2", "u3"].map { .make($0, "app_open", at: Self.now.addingTimeInterval(-60)) }
                    }, metadata: connection.metadata)
                _ = try await connection.tags.createTag(
                    .with {
                        $0.parent = parent
                        $0.tagID = "vip"
                    }, metadata: connection.metadata)
                // A segment each change moves someone into or out of.
                let segments = [
                    ("everyone", "did app_open"), ("buyers", "did purchase"), ("gold", "profile.tier = \"gold\""),
                    ("openers", "opened campaign c1"), ("nearby", "within 10km of (41, 29)"), ("vips", "has tag vip"),
                    ("not_vips", "has no tag vip"),
                ]
                for (id, rule) in segments {
                    _ = try await SegmentLifecycleTests.create(connection, id, rule, schedule: .with { $0.manual = true })
                }
                let ids = segments.map(\.0)
                let rules = try segments.map { ($0.0, try RuleText.parse($0.1)) }
                /// Refreshes every segment in memory and checks each against the SQL compiler's selection.
                @Sendable func refreshAndCompare(_ moment: String) async throws -> [String: [String]] {
                    #expect(try await Self.refresh(ids, server: server, connection: connection).allSatisfy { $0 == "engine" }, "\(moment)")
                    try await Self.expectWrittenAsSQL(rules, server: server, moment: "\(moment): ")
                    var members: [String: [String]] = [:]
                    for id in ids { members[id] = try await Self.members(server, id) }
                    return members
                }
                let changes: [(String, @Sendable () async throws -> Void)] = [
                    (
                        "events",
                        {
                            _ = try await connection.ingestion.ingestEvents(
                                .with {
                                    $0.parent = parent
                                    $0.events = [.make("u1", "purchase", at: Self.now)]
                                }, metadata: connection.metadata)
                        }
                    ),
                    (
                        "profiles",
                        {
                            _ = try await connection.ingestion.upsertProfiles(
                                .with {
                                    $0.parent = parent
                                    $0.profiles = [
                                        .with {
                                            $0.userID = "u2"
                                            $0.attributes = ["tier": .with { $0.stringValue = "gold" }]
                                        }
                                    ]
                                }, metadata: connection.metadata)
                        }
                    ),
                    (
                        "responses",
                        {
                            _ = try await connection.ingestion.recordCampaignResponses(
                                .with {
                                    $0.parent = parent
                                    $0.responses = [
                                        .with {
                                            $0.userID = "u3"
                                            $0.campaignID = "c1"
                                            $0.kind = .opened
                                            $0.time = .init(date: Self.now)
                                        }
                                    ]
                                }, metadata: connection.metadata)
                        }
                    ),
                    (
                        "locations",
                        {
                            _ = try await connection.ingestion.recordLocations(
                                .with {
                                    $0.parent = parent
                                    $0.locations = [
                                        .with {
                                            $0.userID = "u1"
                                            $0.point = .with {
                                                $0.latitude = 41
                                                $0.longitude = 29
                                            }
                                            $0.time = .init(date: Self.now)
                                        }
                                    ]
                                }, metadata: connection.metadata)
                        }
                    ),
                    (
                        "tag assigned",
                        {
                            _ = try await connection.tags.assignTags(
                                .with {
                                    $0.parent = parent
                                    $0.tags = ["vip"]
                                    $0.userIds = ["u2"]
                                }, metadata: connection.metadata)
                        }
                    ),
                    (
                        "tag deleted",
                        { _ = try await connection.tags.deleteTag(.with { $0.name = "\(parent)/tags/vip" }, metadata: connection.metadata) }
                    ),
                    (
                        "user erased",
                        { _ = try await connection.users.deleteUser(.with { $0.name = "\(parent)/users/u3" }, metadata: connection.metadata) }
                    ),
                ]
                // Progress lines: this test once ran past its time limit in a full run with nothing
                // in the log to say which step waited; they name it next time.
                #expect(try await Self.refresh(["everyone"], server: server, connection: connection) == ["sql"])
                print("everyChangeIsSeen: first refresh in SQL done; waiting for the load")
                await registry.waitForLoad(server.tenant)
                print("everyChangeIsSeen: loaded")
                var before = try await refreshAndCompare("loaded")
                let moved: [String: (segment: String, members: [String])] = [
                    "events": ("buyers", ["u1"]), "profiles": ("gold", ["u2"]), "responses": ("openers", ["u3"]),
                    "locations": ("nearby", ["u1"]), "tag assigned": ("vips", ["u2"]), "tag deleted": ("vips", []),
                    "user erased": ("everyone", ["u1", "u2"]),
                ]
                for (kind, change) in changes {
                    try await change()
                    print("everyChangeIsSeen: \(kind) applied; refreshing")
                    let after = try await refreshAndCompare("after \(kind)")
                    let (segment, members) = try #require(moved[kind])
                    #expect(after[segment] == members && before[segment] != members, "\(kind): \(segment) is \(after[segment] ?? [])")
                    before = after
                }
                #expect(before["not_vips"] == ["u1", "u2"] && before["openers"] == [])
                // Refreshes after the first took the current members they had written (held for checks
                // too), or loaded in the background after reading them once, not read them again (the
                // erasure, which lowers sizes without a write, made those segments read theirs).
                let kept = server.server.memberSets.refreshReads
                #expect(kept >= ids.count * (changes.count - 2), "\(kept) refreshes used held members")
                let held = try #require(await registry.audience(for: server.tenant))
                #expect(held.overlay.count == 3 && held.userIndex(of: "u3") == nil)
            }
        }
    }

    @Test("a tenant larger than the memory budget is not kept; its refreshes stay in SQL")
    func overBudget() async throws {
        try await TestServer.with(configure: { Self.configure(&$0, budget: 1) }) { server in
            let registry = try #require(server.server.audiences)
            try await server.connect { connection in
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = "tenants/\(server.tenant)"
                        $0.events = [.make("u1", "app_open", at: Self.now)]
                    }, metadata: connection.metadata)
                _ = try await SegmentLifecycleTests.create(connection, "everyone", "did app_open", schedule: .with { $0.manual = true })
                #expect(try await Self.refresh(["everyone"], server: server, connection: connection) == ["sql"])
                await registry.waitForLoad(server.tenant)
                #expect(await registry.loadedTenants.isEmpty)
                #expect(try await Self.refresh(["everyone"], server: server, connection: connection) == ["sql"])
                #expect(try await Self.members(server, "everyone") == ["u1"])
            }
        }
    }
}
