import Foundation
import SegmentDomain
import SegmentRules
import SegmentdAPI
import Testing

@testable import SegmentServer

@Suite("The rule AST on the wire")
struct RuleProtoMappingTests {
    static let day = Date(timeIntervalSince1970: 1_780_000_000)

    /// One of every node, window, measure and test kind.
    static let everything = Rule.all([
        .behavior(BehaviorCondition(event: "add_to_cart", window: .last(RelativeTime(24, .hours)))),
        .not(.behavior(BehaviorCondition(event: "purchase", negated: true, window: .since(day)))),
        .behavior(
            BehaviorCondition(
                event: "app_open", window: .calendar(.thisWeek, .user), measure: .count(.greaterOrEqual(3)))),
        .behavior(
            BehaviorCondition(
                event: "purchase", window: .between(day, day.addingTimeInterval(86_400)),
                filters: [
                    PropertyFilter(property: "amount", test: .greater(.number(100))),
                    PropertyFilter(property: "currency", test: .equals(.string("EUR"))),
                ],
                measure: .aggregate(.sum, property: "amount", .between(500, 1000)))),
        .behavior(BehaviorCondition(event: "signup", measure: .first(.before(day)))),
        .behavior(BehaviorCondition(event: "purchase", measure: .last(.last(RelativeTime(7, .days))))),
        .any([
            .attribute(AttributeCondition(attribute: "tier", test: .isIn([.string("gold"), .string("platinum")]))),
            .attribute(AttributeCondition(attribute: "language", test: .notEquals(.string("tr")))),
            .attribute(AttributeCondition(attribute: "name", test: .startsWith("A"))),
            .attribute(AttributeCondition(attribute: "email", test: .endsWith("@example.com"))),
            .attribute(AttributeCondition(attribute: "bio", test: .contains(.string("shoes")))),
            .attribute(AttributeCondition(attribute: "phone", test: .exists)),
            .attribute(AttributeCondition(attribute: "fax", test: .notSet)),
            .attribute(AttributeCondition(attribute: "age", test: .lessOrEqual(.number(30)))),
            .attribute(AttributeCondition(attribute: "score", test: .greaterOrEqual(.number(4.5)))),
            .attribute(AttributeCondition(attribute: "visits", test: .less(.number(2)))),
            .attribute(AttributeCondition(attribute: "signed_up_at", test: .moreThanAgo(RelativeTime(30, .days)))),
            .attribute(AttributeCondition(attribute: "last_seen_at", test: .lessThanAgo(RelativeTime(2, .weeks)))),
            .attribute(AttributeCondition(attribute: "birthday", test: .less(.time(day)))),
            .attribute(AttributeCondition(attribute: "renewal", test: .greater(.time(day)))),
            .attribute(AttributeCondition(attribute: "interests", test: .containsAny(["shoes", "bags"]))),
            .attribute(AttributeCondition(attribute: "interests", test: .containsAll(["books"]))),
            .attribute(AttributeCondition(attribute: "vip", test: .notIn([.bool(false)]))),
        ]),
        .response(ResponseCondition(kind: .clicked, negated: true, campaign: .last)),
        .response(ResponseCondition(kind: .opened, campaign: .campaign("spring_sale"), window: .last(RelativeTime(90, .minutes)))),
        .response(ResponseCondition(kind: .received, campaign: .any, window: .calendar(.lastMonth, .tenant))),
        .tag(TagCondition(tag: "vip")),
        .tag(TagCondition(tag: "blocked", negated: true)),
        .location(LocationCondition(place: .within(latitude: 41.01, longitude: 28.97, meters: 10_000), seen: .last(RelativeTime(7, .days)))),
        .location(LocationCondition(place: .city("Istanbul"))),
        .location(LocationCondition(place: .country("TR"))),
        .segment(SegmentCondition(segment: "high_value_buyers_30d")),
        .segment(SegmentCondition(segment: "churned", negated: true)),
    ])

    @Test("every kind of node survives domain → wire → bytes → wire → domain unchanged")
    func roundTrip() throws {
        let wire = RuleProtoMapping.proto(Self.everything)
        let bytes: [UInt8] = try wire.serializedBytes()
        let decoded = try Segmentd_V1_Rule(serializedBytes: bytes)
        #expect(try RuleProtoMapping.rule(decoded) == Self.everything)
    }

    @Test("malformed wire rules are refused with the path of the node at fault")
    func errors() {
        let empty = Segmentd_V1_Rule.with { $0.all = .with { $0.rules = [.init()] } }
        #expect(throws: RuleConversionError(path: "rule.ast.all[0]", reason: "an empty rule node")) {
            try RuleProtoMapping.rule(empty)
        }
        let badRange = Segmentd_V1_Rule.with {
            $0.behavior = .with {
                $0.event = "x"
                $0.count = .with {
                    $0.op = .between
                    $0.value = 5
                    $0.upper = 1
                }
            }
        }
        #expect(throws: RuleConversionError(path: "rule.ast.behavior.count", reason: "the lower bound is above the upper")) {
            try RuleProtoMapping.rule(badRange)
        }
        let twoMeasures = Segmentd_V1_Rule.with {
            $0.behavior = .with {
                $0.event = "x"
                $0.count = .with {
                    $0.op = .equal
                    $0.value = 1
                }
                $0.aggregate = .with {
                    $0.function = .sum
                    $0.property = "a"
                    $0.comparison = .with { $0.op = .greater }
                }
            }
        }
        #expect(throws: RuleConversionError.self) { try RuleProtoMapping.rule(twoMeasures) }
        let noUnit = Segmentd_V1_Rule.with {
            $0.tag = .with { $0.tag = "t" }
        }
        #expect((try? RuleProtoMapping.rule(noUnit)) == .tag(TagCondition(tag: "t")))
    }
}
