import Foundation
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentStore
import SegmentdTestSupport
import Testing

/// The audience engine's evaluator against the single-user evaluator (and so,
/// through the SQL differential tests, against the SQL compiler): the same
/// member set for thousands of random rules over data placed on the boundaries.
@Suite("Audience engine: every criterion evaluated over bitmaps, exactly as the rules say", .timeLimit(.minutes(10)))
struct AudienceEvaluatorTests {
    static let now = RuleDifferentialTests.now

    /// Loads a seeded data set through the API, then the tenant's audience, facts and context.
    static func withData(
        seed: UInt64, users: Int, tenantZone: String = "Europe/Istanbul",
        _ body: @Sendable (AudienceEvaluator, RuleEvaluator, [Int64: UserFacts], [Int64: String]) async throws -> Void
    ) async throws {
        let data = RuleTestData(seed: seed, users: users, now: now)
        try await TestServer.with(configure: { $0.clock = { now } }) { server in
            try await RuleDifferentialTests.load(data, into: server, tenantZone: tenantZone)
            let store = server.server.ruleStore
            let context = try await store.context(tenant: server.tenant, now: now)
            let facts = try await store.allFacts(tenant: server.tenant)
            let loaded = try await AudienceLoadTests.load(server, tenant: server.tenant, batchSize: 97)
            let engine = AudienceEvaluator(audience: loaded.audience, context: context, segments: Self.segments(in: facts))
            try await body(engine, RuleEvaluator(context: context), facts, try await RuleDifferentialTests.externalIDs(server))
        }
    }

    /// Each segment's members as the facts record them.
    static func segments(in facts: [Int64: UserFacts]) -> [String: MemberBitmap] {
        var segments: [String: MemberBitmap] = [:]
        for (index, userFacts) in facts {
            for segment in userFacts.segments { segments[segment, default: MemberBitmap()].insert(UInt32(index)) }
        }
        return segments
    }

    static func compare(
        _ rules: some Sequence<(seed: UInt64, rule: Rule)>, engine: AudienceEvaluator, evaluator: RuleEvaluator, facts: [Int64: UserFacts],
        ids: [Int64: String]
    ) -> Int {
        var nonTrivial = 0
        for (seed, rule) in rules {
            let fromEngine = engine.members(rule).map { Int64($0) }
            let expected = facts.filter { evaluator.matches(rule, $0.value) }.keys.sorted()
            if !expected.isEmpty && expected.count < facts.count { nonTrivial += 1 }
            guard fromEngine == expected else {
                let onlyEngine = Set(fromEngine).subtracting(expected).sorted()
                let onlyEvaluator = Set(expected).subtracting(fromEngine).sorted()
                let first = (onlyEngine + onlyEvaluator)[0]
                Issue.record(
                    """
                    rule seed \(seed): member sets differ
                    rule: \(RuleText.print(rule))
                    only engine: \(onlyEngine.prefix(10).map { ids[$0] ?? "#\($0)" }); only evaluator: \(onlyEvaluator.prefix(10).map { ids[$0] ?? "#\($0)" })
                    evaluator's explanation for \(ids[first] ?? "#\(first)"):
                    \(facts[first].map { evaluator.explain(rule, $0).rendered() } ?? "no facts")
                    """)
                return nonTrivial
            }
        }
        return nonTrivial
    }

    @Test("3,000 random rules over two seeded data sets: the engine's member sets equal the evaluator's")
    func randomRules() async throws {
        for (dataSeed, zone) in [(UInt64(20_261_125), "Europe/Istanbul"), (UInt64(7), "America/New_York")] {
            try await Self.withData(seed: dataSeed, users: 150, tenantZone: zone) { engine, evaluator, facts, ids in
                #expect(engine.context.lastCampaign != nil)
                let rules = (UInt64(1)...1500).lazy.map { seed in
                    var generator = RandomRules(seed: seed &* 7919 &+ dataSeed, vocabulary: RuleTestData.vocabulary(now: Self.now))
                    generator.maxDepth = 3
                    return (seed: seed, rule: generator.rule())
                }
                let nonTrivial = Self.compare(rules, engine: engine, evaluator: evaluator, facts: facts, ids: ids)
                #expect(nonTrivial > 450, "only \(nonTrivial) of 1500 rules chose a proper subset")
                // Random rules over one vocabulary repeat conditions that only the data decides: kept and reused.
                let (reused, evaluated) = engine.audience.conditions.counts
                #expect(reused > 300 && evaluated > 100, "reused \(reused), evaluated \(evaluated)")
            }
        }
    }

    @Test("segments refreshed together share their conditions, and a reference reads the members just computed")
    func batch() async throws {
        try await Self.withData(seed: 5, users: 150) { engine, _, _, _ in
            let rules = (UInt64(1)...300).map { seed in
                var generator = RandomRules(seed: seed, vocabulary: RuleTestData.vocabulary(now: Self.now))
                generator.maxDepth = 3
                return (id: "r\(seed)", rule: generator.rule())
            }
            // Dependents first in the input: the batch orders them after what they reference.
            let dependent = try RuleText.parse("in segment buyers and has tag vip")
            let buyers = try RuleText.parse("did purchase")
            let result = engine.members(of: [(id: "vip_buyers", rule: dependent)] + rules + [(id: "buyers", rule: buyers)])
            for (id, rule) in rules {
                #expect(result.members[id] == engine.members(rule), "\(id): \(RuleText.print(rule))")
            }
            let expected = engine.members(buyers).intersection(engine.members(try RuleText.parse("has tag vip")))
            #expect(!expected.isEmpty)
            #expect(result.members["vip_buyers"] == expected)
            // Random rules over one vocabulary repeat conditions: those are evaluated once.
            #expect(result.reused > 100, "reused \(result.reused) of \(result.evaluated + result.reused)")
        }
    }

    @Test("after incremental ingest the caught-up state answers as the evaluator does; dropped and reloaded, too")
    func incrementalIngest() async throws {
        let data = RuleTestData(seed: 11, users: 150, now: Self.now)
        try await TestServer.with(configure: { EngineRefreshTests.configure(&$0) }) { server in
            try await RuleDifferentialTests.load(data, into: server)
            let registry = try #require(server.server.audiences)
            await registry.load(server.tenant)
            let loaded = try #require(await registry.audience(for: server.tenant))
            #expect(loaded.overlay.count == 0)

            try await Self.ingestChanges(RuleTestData(seed: 12, users: 80, now: Self.now), into: server)
            let current = try #require(await registry.current(for: server.tenant))
            #expect(current.overlay.count > 60, "the overlay holds \(current.overlay.count) users")
            #expect(current.databaseSnapshot != loaded.databaseSnapshot)

            let store = server.server.ruleStore
            let context = try await store.context(tenant: server.tenant, now: Self.now)
            let facts = try await store.allFacts(tenant: server.tenant)
            let ids = try await RuleDifferentialTests.externalIDs(server)
            #expect(ids.values.contains("n1") && !ids.values.contains("u3"))
            let rules = (UInt64(1)...1500).lazy.map { seed in
                var generator = RandomRules(seed: seed &* 31 &+ 11, vocabulary: RuleTestData.vocabulary(now: Self.now))
                generator.maxDepth = 3
                return (seed: seed, rule: generator.rule())
            }
            let evaluator = RuleEvaluator(context: context)
            let caughtUp = AudienceEvaluator(audience: current, context: context, segments: Self.segments(in: facts))
            let nonTrivial = Self.compare(rules, engine: caughtUp, evaluator: evaluator, facts: facts, ids: ids)
            #expect(nonTrivial > 450, "only \(nonTrivial) of 1500 rules chose a proper subset")
            #expect(current.userIndex(of: "n1") != nil && current.userIndex(of: "u3") == nil && current.userIndex(of: "u0") != nil)

            // Dropped and loaded again: the overlay is folded into the columns, with the same answers.
            await registry.stale(server.tenant)
            await registry.load(server.tenant)
            let reloaded = try #require(await registry.current(for: server.tenant))
            #expect(reloaded.overlay.count == 0 && reloaded.users.count == facts.count)
            let fresh = AudienceEvaluator(audience: reloaded, context: context, segments: Self.segments(in: facts))
            _ = Self.compare(rules.prefix(500), engine: fresh, evaluator: evaluator, facts: facts, ids: ids)
        }
    }

    /// Changes every kind of rule data of a loaded tenant through the API: `data`'s
    /// even users are existing ones (more events, responses, locations, new
    /// profiles, tags), its odd users are new (`n…`); a few users are erased and a
    /// tag is deleted.
    static func ingestChanges(_ data: RuleTestData, into server: TestServer) async throws {
        func user(_ id: String) -> String {
            let index = Int(id.dropFirst())!
            return index.isMultiple(of: 2) ? id : "n\(index)"
        }
        /// `records` with each user id mapped by `user`.
        func moved<Record>(_ records: some Sequence<Record>, _ userID: WritableKeyPath<Record, String>) -> [Record] {
            records.map { record in
                var changed = record
                changed[keyPath: userID] = user(record[keyPath: userID])
                return changed
            }
        }
        try await server.connect { connection in
            let parent = "tenants/\(server.tenant)"
            _ = try await connection.ingestion.upsertProfiles(
                .with {
                    $0.parent = parent
                    $0.profiles = moved(data.profiles, \.userID)
                }, metadata: connection.metadata)
            for chunk in stride(from: 0, to: data.events.count, by: 400) {
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = parent
                        $0.events = moved(data.events[chunk..<min(chunk + 400, data.events.count)], \.userID).map { event in
                            var late = event
                            late.messageID = "late-" + event.messageID
                            return late
                        }
                    }, metadata: connection.metadata)
            }
            _ = try await connection.ingestion.recordCampaignResponses(
                .with {
                    $0.parent = parent
                    $0.responses = moved(data.responses, \.userID)
                }, metadata: connection.metadata)
            _ = try await connection.ingestion.recordLocations(
                .with {
                    $0.parent = parent
                    $0.locations = moved(data.locations, \.userID)
                }, metadata: connection.metadata)
            for (tag, users) in data.tagged.sorted(by: { $0.key < $1.key }) {
                _ = try await connection.tags.assignTags(
                    .with {
                        $0.parent = parent
                        $0.tags = [tag]
                        $0.userIds = users.map(user)
                    }, metadata: connection.metadata)
            }
            for erased in ["u3", "u5", "u8", "u13", "u40"] {
                _ = try await connection.users.deleteUser(.with { $0.name = "\(parent)/users/\(erased)" }, metadata: connection.metadata)
            }
            _ = try await connection.tags.deleteTag(.with { $0.name = "\(parent)/tags/beta" }, metadata: connection.metadata)
        }
    }
}
