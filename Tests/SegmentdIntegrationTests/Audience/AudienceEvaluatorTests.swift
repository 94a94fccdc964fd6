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
}
