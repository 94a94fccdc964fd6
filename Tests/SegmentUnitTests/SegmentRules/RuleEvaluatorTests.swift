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

    @Test(
        "a negated condition's explanation shows what decides it (the opposite requirement), for every negated kind",
        arguments: [
            ("did not purchase in last 30d", false, "purchase count in last 30d = 2, needed 0"),
            ("did not refund in last 30d", true, "refund count in last 30d = 0, needed 0"),
            ("did not app_open at least 3 times in last 30d", true, "app_open count in last 30d = 0, needed fewer than 3"),
            ("did not purchase at most 1 time", true, "purchase count = 2, needed more than 1"),
            ("did not purchase exactly 2 times", false, "purchase count = 2, needed other than 2"),
            ("did not purchase between 1 and 3 times", false, "purchase count = 2, needed outside 1 and 3"),
            ("not sum(purchase.amount) in last 30d >= 500", false, "sum(purchase.amount) in last 30d = 1791, needed below 500"),
            ("not avg(purchase.amount) < 100", true, "avg(purchase.amount) = 895.5, needed at least 100 or no values"),
            ("not max(purchase.amount) > 1000", false, "max(purchase.amount) = 1500, needed at most 1000 or no values"),
            ("not last time did purchase was in last 7d", false, "needed not in the last 7 days"),
        ])
    func negatedExplanations(rule: String, holds: Bool, observed: String) throws {
        let facts = UserFacts(events: [
            UserEvent(name: "purchase", time: BoundaryCases.now.addingTimeInterval(-3600), properties: ["amount": .number(1500)]),
            UserEvent(name: "purchase", time: BoundaryCases.now.addingTimeInterval(-7200), properties: ["amount": .number(291)]),
        ])
        let explanation = RuleEvaluator(context: Self.context).explain(try RuleText.parse(rule), facts)
        #expect(explanation.result == holds, "\(rule)")
        #expect(explanation.observed.hasSuffix(observed), "\(rule): \(explanation.observed)")
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
