import Foundation
import SegmentRules
import SegmentdTestSupport
import Testing

@testable import SegmentEngine

/// The deadline queue of a real-time segment is seeded from the engine's columns
/// (``AudienceEdges``) and kept from each user's facts afterwards (``RuleEdges``):
/// the two must name the same next edge for every user, or a user seeded from the
/// columns would leave late (or be evaluated for nothing).
@Suite("Real-time edges: the columns name each user's next window edge as the user's facts do", .timeLimit(.minutes(10)))
struct AudienceEdgesTests {
    @Test("1,000 random rules over seeded data on the boundaries: per user, the same next edge (to the microsecond)")
    func randomRules() async throws {
        try await AudienceEvaluatorTests.withData(seed: 20_261_203, users: 150) { engine, evaluator, facts, ids in
            let edges = RuleEdges(context: evaluator.context)
            var timeDependent = 0
            var withEdges = 0
            for seed in UInt64(1)...1000 {
                var generator = RandomRules(seed: seed &* 104_729, vocabulary: RuleTestData.vocabulary(now: AudienceEvaluatorTests.now))
                generator.maxDepth = 3
                let rule = generator.rule()
                guard RuleEdges.dependsOnTime(rule) else { continue }
                timeDependent += 1
                let columns = AudienceEdges(audience: engine.audience, context: engine.context).next(rule)
                if !columns.isEmpty { withEdges += 1 }
                for (index, userFacts) in facts {
                    let user = UInt32(index)
                    let fromFacts = edges.next(rule, userFacts)
                    let fromColumns = columns[user]
                    let same: Bool
                    switch (fromFacts, fromColumns) {
                    case (nil, nil): same = true
                    case (let a?, let b?): same = abs(a.timeIntervalSince(b)) <= 0.000_002
                    default: same = false
                    }
                    if !same {
                        Issue.record(
                            "rule seed \(seed): \(RuleText.print(rule)): \(ids[index] ?? "#\(index)") facts say \(String(describing: fromFacts)), columns \(String(describing: fromColumns))"
                        )
                        return
                    }
                }
            }
            print("AudienceEdgesTests: \(timeDependent) of 1,000 rules depend on time, \(withEdges) have edges in the columns")
            #expect(timeDependent > 250 && withEdges > 150, "\(timeDependent) time-dependent rules, \(withEdges) with edges")
        }
    }
}
