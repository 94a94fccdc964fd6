import SegmentRules
import Testing

@Suite("The rule AST")
struct RuleASTTests {
    @Test("depth and size count groups, negations and leaves")
    func shape() {
        let cartAbandoners = Rule.all([
            .behavior(BehaviorCondition(event: "add_to_cart", window: .last(RelativeTime(24, .hours)))),
            .not(.behavior(BehaviorCondition(event: "purchase", window: .last(RelativeTime(24, .hours))))),
        ])
        #expect(cartAbandoners.depth == 3)
        #expect(cartAbandoners.nodeCount == 4)
        #expect(Rule.tag(TagCondition(tag: "vip")).depth == 1)
        #expect(Rule.any([]).nodeCount == 1)
    }

    @Test("comparisons hold at their boundaries")
    func comparisons() {
        #expect(Comparison.greaterOrEqual(3).holds(3))
        #expect(!Comparison.greater(3).holds(3))
        #expect(Comparison.between(1, 3).holds(1) && Comparison.between(1, 3).holds(3))
        #expect(!Comparison.between(1, 3).holds(3.0001))
        #expect(Comparison.equal(2).holds(2) && !Comparison.notEqual(2).holds(2))
        #expect(Comparison.less(0).holds(-1) && Comparison.lessOrEqual(0).holds(0))
    }

    @Test("relative times convert to seconds")
    func relativeTimes() {
        #expect(RelativeTime(24, .hours).seconds == 86_400)
        #expect(RelativeTime(2, .weeks).seconds == 14 * 86_400)
        #expect(RelativeTime(90, .minutes).seconds == 5400)
    }
}
