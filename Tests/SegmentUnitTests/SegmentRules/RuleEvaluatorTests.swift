import Foundation
import SegmentRules
import SegmentdTestSupport
import Testing

@Suite("The single-user evaluator at the boundaries")
struct RuleEvaluatorTests {
    static let context = EvaluationContext(
        now: BoundaryCases.now, tenantTimeZone: TimeZone(identifier: BoundaryCases.tenantZone)!, lastCampaign: BoundaryCases.lastCampaign)

    @Test(arguments: BoundaryCases.all.map(\.name))
    func boundary(name: String) throws {
        let testCase = try #require(BoundaryCases.all.first { $0.name == name })
        let rule = try RuleText.parse(testCase.rule)
        let evaluator = RuleEvaluator(context: Self.context)
        #expect(
            evaluator.matches(rule, testCase.facts) == testCase.expected, "\(testCase.rule)\n\(evaluator.explain(rule, testCase.facts).rendered())")
        #expect(evaluator.explain(rule, testCase.facts).result == testCase.expected)
    }

    @Test func explanationsSayWhatWasObserved() throws {
        let facts = UserFacts(events: [
            UserEvent(name: "purchase", time: BoundaryCases.now.addingTimeInterval(-3600)),
            UserEvent(name: "purchase", time: BoundaryCases.now.addingTimeInterval(-7200)),
        ])
        let explanation = RuleEvaluator(context: Self.context).explain(try RuleText.parse("did purchase at least 3 times in last 30d"), facts)
        #expect(!explanation.result)
        #expect(explanation.observed == "purchase count in last 30d = 2, needed at least 3")
        #expect(explanation.rendered() == "✗ did purchase at least 3 times in last 30d  — purchase count in last 30d = 2, needed at least 3")
    }

    @Test func restatementsReadAsSentences() throws {
        #expect(
            RuleRestatement.describe(try RuleText.parse("did add_to_cart in last 24h and not did purchase in last 24h"))
                == "Users who performed add_to_cart in the last 24 hours and who did not perform purchase in the last 24 hours")
        #expect(
            RuleRestatement.describe(try RuleText.parse("profile.tier in [\"gold\", \"platinum\"] or has tag vip"))
                == "Users whose tier is one of \"gold\", \"platinum\" or who have the tag vip")
    }
}
