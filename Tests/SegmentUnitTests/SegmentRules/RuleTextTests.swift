import Foundation
import SegmentRules
import SegmentdTestSupport
import Testing

@Suite("The rule text language")
struct RuleTextTests {
    /// The examples of issue 5 and the docs parse to the intended trees.
    @Test(arguments: [
        (
            "did add_to_cart in last 24h and not did purchase in last 24h",
            Rule.all([
                .behavior(BehaviorCondition(event: "add_to_cart", window: .last(RelativeTime(24, .hours)))),
                .not(.behavior(BehaviorCondition(event: "purchase", window: .last(RelativeTime(24, .hours))))),
            ])
        ),
        (
            "did app_open at least 3 times in last 7d",
            .behavior(BehaviorCondition(event: "app_open", window: .last(RelativeTime(7, .days)), measure: .count(.greaterOrEqual(3))))
        ),
        (
            "sum(purchase.amount) in last 30d >= 500",
            .behavior(
                BehaviorCondition(
                    event: "purchase", window: .last(RelativeTime(30, .days)), measure: .aggregate(.sum, property: "amount", .greaterOrEqual(500))))
        ),
        (
            "profile.tier in [\"gold\", \"platinum\"] and profile.language = \"tr\"",
            .all([
                .attribute(AttributeCondition(attribute: "tier", test: .isIn([.string("gold"), .string("platinum")]))),
                .attribute(AttributeCondition(attribute: "language", test: .equals(.string("tr")))),
            ])
        ),
        ("not clicked last campaign", .response(ResponseCondition(kind: .clicked, negated: true, campaign: .last))),
        ("has tag vip", .tag(TagCondition(tag: "vip"))),
        ("within 10km of (41.01, 28.97)", .location(LocationCondition(place: .within(latitude: 41.01, longitude: 28.97, meters: 10_000)))),
        ("in segment high_value_buyers_30d", .segment(SegmentCondition(segment: "high_value_buyers_30d"))),
        (
            "did purchase where amount > 100 and currency = \"EUR\"",
            .behavior(
                BehaviorCondition(
                    event: "purchase",
                    filters: [
                        PropertyFilter(property: "amount", test: .greater(.number(100))),
                        PropertyFilter(property: "currency", test: .equals(.string("EUR"))),
                    ]))
        ),
        (
            "did purchase where amount > 100 and has tag vip",
            .all([
                .behavior(BehaviorCondition(event: "purchase", filters: [PropertyFilter(property: "amount", test: .greater(.number(100)))])),
                .tag(TagCondition(tag: "vip")),
            ])
        ),
        (
            "did app_open at least 3 times this week in user time zone",
            .behavior(BehaviorCondition(event: "app_open", window: .calendar(.thisWeek, .user), measure: .count(.greaterOrEqual(3))))
        ),
        (
            "profile.signed_up_at more than 30 days ago",
            .attribute(AttributeCondition(attribute: "signed_up_at", test: .moreThanAgo(RelativeTime(30, .days))))
        ),
        (
            "last time did purchase was before 2026-01-01",
            .behavior(BehaviorCondition(event: "purchase", measure: .last(.before(Date(timeIntervalSince1970: 1_767_225_600)))))
        ),
        (
            "a or b".replacingOccurrences(of: "a", with: "has tag a").replacingOccurrences(of: " b", with: " has tag b"),
            .any([.tag(TagCondition(tag: "a")), .tag(TagCondition(tag: "b"))])
        ),
        ("location seen in last 7d", .location(LocationCondition(place: .anywhere, seen: .last(RelativeTime(7, .days))))),
        ("# comment\nhas tag vip # trailing", .tag(TagCondition(tag: "vip"))),
    ])
    func examplesParse(text: String, expected: Rule) throws {
        #expect(try RuleText.parse(text) == expected)
    }

    @Test func andBindsTighterThanOrAndParenthesesKeepGroups() throws {
        let a = Rule.tag(TagCondition(tag: "a"))
        let b = Rule.tag(TagCondition(tag: "b"))
        let c = Rule.tag(TagCondition(tag: "c"))
        #expect(try RuleText.parse("has tag a or has tag b and has tag c") == .any([a, .all([b, c])]))
        #expect(try RuleText.parse("(has tag a and has tag b) and has tag c") == .all([.all([a, b]), c]))
        #expect(try RuleText.parse("has tag a and has tag b and has tag c") == .all([a, b, c]))
        #expect(RuleText.print(.all([.all([a, b]), c])) == "(has tag a and has tag b) and has tag c")
        #expect(RuleText.print(.all([])) == "all()")
        #expect(RuleText.print(.any([a])) == "any(has tag a)")
        #expect(RuleText.print(.not(.segment(SegmentCondition(segment: "x")))) == "not (in segment x)")
        #expect(RuleText.print(.segment(SegmentCondition(segment: "x", negated: true))) == "not in segment x")
    }

    @Test func hostileNamesArePrintedSoTheyParseBack() throws {
        let rule = Rule.all([
            .behavior(BehaviorCondition(event: "not", filters: [PropertyFilter(property: "and", test: .equals(.string("x\"; --")))])),
            .attribute(AttributeCondition(attribute: "two words", test: .exists)),
            .attribute(AttributeCondition(attribute: "city", test: .equals(.string("İstanbul")))),
        ])
        let text = RuleText.print(rule)
        #expect(text == "did `not` where `and` = \"x\\\"; --\" and profile.`two words` exists and profile.city = \"İstanbul\"")
        #expect(try RuleText.parse(text) == rule)
    }

    /// parse(print(ast)) == ast over thousands of random trees with hostile names.
    @Test func printThenParseIsTheIdentity() throws {
        for seed in UInt64(1)...3000 {
            var generator = RandomRules(seed: seed)
            let rule = generator.rule()
            let text = RuleText.print(rule)
            let parsed: Rule
            do {
                parsed = try RuleText.parse(text)
            } catch {
                Issue.record("seed \(seed): the printed text does not parse: \(error)\n\(text)")
                return
            }
            guard parsed == rule else {
                Issue.record("seed \(seed): parse(print(rule)) differs\ntext: \(text)\nreprinted: \(RuleText.print(parsed))")
                return
            }
        }
    }

    @Test func errorsPointAtLineAndColumnWithWhatWasExpected() {
        do {
            _ = try RuleText.parse("did purchase in last 24h\n  and has tag")
            Issue.record("parsed")
        } catch {
            #expect(error.line == 2)
            #expect(error.column == 14)
            #expect(error.message == "the rule ends after 'tag'")
            #expect(error.expected == ["a tag name"])
            #expect(error.excerpt == "  and has tag\n             ^")
        }
        do {
            _ = try RuleText.parse("did purchase at least three times")
            Issue.record("parsed")
        } catch {
            #expect(error.line == 1 && error.column == 23)
            #expect(error.expected == ["a count"])
            #expect(error.description.contains("expected a count"))
        }
        do {
            _ = try RuleText.parse("did purchase in last 24x")
            Issue.record("parsed")
        } catch {
            #expect(error.message == "unknown time unit 'x': use m, h, d or w")
            #expect(error.column == 22)
        }
        do {
            _ = try RuleText.parse("has tag vip has tag x")
            Issue.record("parsed")
        } catch {
            #expect(error.expected.contains("'and'"))
            #expect(error.column == 13)
        }
        do {
            _ = try RuleText.parse("profile.name = \"unterminated")
            Issue.record("parsed")
        } catch {
            #expect(error.message == "this string is not closed")
        }
        do {
            _ = try RuleText.parse("did purchase since 2026-02-30")
            Issue.record("parsed")
        } catch {
            #expect(error.message.contains("no such day"))
        }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "(", count: 10_000) + "has tag a" + String(repeating: ")", count: 10_000)
        #expect(throws: RuleSyntaxError.self) { try RuleText.parse(deep) }
        let nots = String(repeating: "not ", count: 10_000) + "has tag a"
        #expect(throws: RuleSyntaxError.self) { try RuleText.parse(nots) }
        #expect(throws: RuleSyntaxError.self) { try RuleText.parse(String(repeating: "x", count: 200_000)) }
    }

    @Test func timesPrintAsDatesAtMidnightAndWithFractions() throws {
        let midnight = Date(timeIntervalSince1970: 1_767_225_600)
        #expect(RulePrinterProbe.time(midnight) == "2026-01-01")
        #expect(RulePrinterProbe.time(midnight.addingTimeInterval(3661.5)) == "2026-01-01T01:01:01.5Z")
        #expect(try RuleText.parse("did x since 2026-01-01T03:00:00+03:00") == .behavior(BehaviorCondition(event: "x", window: .since(midnight))))
    }
}

/// The printer's time format, through the public API.
enum RulePrinterProbe {
    static func time(_ date: Date) -> String {
        let text = RuleText.print(.behavior(BehaviorCondition(event: "x", window: .since(date))))
        return String(text.dropFirst("did x since ".count))
    }
}
