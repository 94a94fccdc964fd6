import Foundation
import SegmentRules
import Testing

/// The messages people see for the mistakes they make most (issue 19, item 10).
@Suite("Rule text error messages")
struct RuleTextMessageTests {
    /// The error `text` raises; records an issue when it parses.
    static func error(_ text: String) -> RuleSyntaxError? {
        do {
            let rule = try RuleText.parse(text)
            Issue.record("parsed: \(RuleText.print(rule))")
            return nil
        } catch {
            return error
        }
    }

    @Test("'in the last 7 days' points at 'the' and spells the window 'in last 7d'")
    func windowWithThe() throws {
        let error = try #require(Self.error("did purchase in the last 7 days"))
        #expect(error.column == 17)
        #expect(error.message == "windows read 'in last 7d', without 'the'")
        #expect(error.expected == ["'in last'"])
        #expect(error.excerpt == "did purchase in the last 7 days\n                ^")
    }

    @Test(
        "other ways of writing a window suggest the canonical duration",
        arguments: [
            ("did purchase in the last 24 hours", 17, "windows read 'in last 24h', without 'the'"),
            ("did purchase in the last 7d", 17, "windows read 'in last 7d', without 'the'"),
            ("did purchase in the last day", 17, "windows read 'in last 1d', without 'the'"),
            ("did purchase in the past 2 weeks", 17, "windows read 'in last 2w', without 'the'"),
            ("did purchase in past 30 minutes", 17, "windows read 'in last 30m', not 'in past'"),
            (
                "did purchase in the last week", 17,
                "windows read 'in last 1w' (the past 7 days) or 'last week' (the calendar week), without 'the'"
            ),
            ("did purchase in the last few days", 17, "windows read 'in last' and a duration such as 7d, 24h or 30m, without 'the'"),
            ("clicked last campaign in the last 7 days", 26, "windows read 'in last 7d', without 'the'"),
            ("location seen in the last 3 days", 18, "windows read 'in last 3d', without 'the'"),
            ("first time did app_open was in the last 7 days", 32, "windows read 'in last 7d', without 'the'"),
            ("sum(purchase.amount) in the last 30 days >= 5", 25, "windows read 'in last 30d', without 'the'"),
        ])
    func windowSpellings(text: String, column: Int, message: String) throws {
        let error = try #require(Self.error(text))
        #expect(error.column == column)
        #expect(error.message == message)
    }

    @Test("a window after 'where' filters says windows come before them, with the rule rewritten")
    func windowAfterFilters() throws {
        let error = try #require(Self.error("did purchase where amount > 10 in last 7d"))
        #expect(error.column == 32)
        #expect(error.message == "the window goes before the 'where' filters, as in 'did purchase in last 7d where amount > 10'")
        // The rewritten rule is what was meant.
        #expect(
            try RuleText.parse("did purchase in last 7d where amount > 10")
                == .behavior(
                    BehaviorCondition(
                        event: "purchase", window: .last(RelativeTime(7, .days)),
                        filters: [PropertyFilter(property: "amount", test: .greater(.number(10)))])
                ))

        let twoFilters = try #require(Self.error("did not purchase at least 2 times where currency = \"EUR\" and amount > 1 since 2026-01-01"))
        #expect(
            twoFilters.message
                == "the window goes before the 'where' filters, as in 'did not purchase at least 2 times since 2026-01-01 where currency = \"EUR\" and amount > 1'"
        )

        let misspelled = try #require(Self.error("did purchase where amount > 10 in the last 7 days"))
        #expect(misspelled.message == "windows read 'in last 7d', without 'the'")
        #expect(misspelled.column == 35)

        let aggregate = try #require(Self.error("sum(purchase.amount) where currency = \"EUR\" in last 30d >= 500"))
        #expect(aggregate.message == "the window goes before the 'where' filters")
        #expect(aggregate.column == 45)

        let occurrence = try #require(Self.error("first time did purchase where amount > 1 today was in last 7d"))
        #expect(occurrence.message == "the window goes before the 'where' filters")

        // A second window is not rewritten into a rule with the first one dropped.
        let second = try #require(Self.error("did purchase in last 1d where amount > 1 in last 7d"))
        #expect(second.message == "the window goes before the 'where' filters")
    }

    @Test("single-quoted strings suggest double quotes")
    func singleQuotes() throws {
        let error = try #require(Self.error("profile.tier = 'gold'"))
        #expect(error.column == 16)
        #expect(error.message == "strings use double quotes: write \"gold\"")
        #expect(error.expected == ["a string in double quotes"])

        let escaped = try #require(Self.error("did purchase where note = 'say \"hi\"'"))
        #expect(escaped.message == "strings use double quotes: write \"say \\\"hi\\\"\"")

        let unclosed = try #require(Self.error("profile.tier in ['gold"))
        #expect(unclosed.message == "strings use double quotes, not single quotes")
        #expect(unclosed.column == 18)
    }

    @Test("AND, OR and NOT parse in any case and print in lower case")
    func caseInsensitiveConnectives() throws {
        let lower = try RuleText.parse("did purchase and not has tag vip or (did app_open where amount > 1 and currency = \"EUR\")")
        for text in [
            "did purchase AND NOT has tag vip OR (did app_open where amount > 1 AND currency = \"EUR\")",
            "did purchase And Not has tag vip oR (did app_open where amount > 1 anD currency = \"EUR\")",
        ] {
            let rule = try RuleText.parse(text)
            #expect(rule == lower)
            #expect(RuleText.print(rule) == RuleText.print(lower))
        }
        #expect(RuleText.print(lower) == "(did purchase and not has tag vip) or did app_open where amount > 1 and currency = \"EUR\"")

        // Every place the three keywords appear.
        #expect(try RuleText.parse("did NOT purchase") == RuleText.parse("did not purchase"))
        #expect(try RuleText.parse("NOT in segment vip") == RuleText.parse("not in segment vip"))
        #expect(try RuleText.parse("NOT clicked last campaign") == RuleText.parse("not clicked last campaign"))
        #expect(try RuleText.parse("did x between 2 AND 5 times") == RuleText.parse("did x between 2 and 5 times"))
        #expect(try RuleText.parse("did x between 2026-01-01 AND 2026-02-01") == RuleText.parse("did x between 2026-01-01 and 2026-02-01"))
        #expect(try RuleText.parse("profile.tier NOT in [\"a\"]") == RuleText.parse("profile.tier not in [\"a\"]"))
        #expect(try RuleText.parse("profile.tier is NOT set") == RuleText.parse("profile.tier is not set"))
        #expect(try RuleText.parse("profile.age between 1 AND 2") == RuleText.parse("profile.age between 1 and 2"))
        #expect(try RuleText.parse("sum(p.a) between 1 AND 2") == RuleText.parse("sum(p.a) between 1 and 2"))
        #expect(try RuleText.parse("NOT sum(p.a) > 1") == RuleText.parse("not sum(p.a) > 1"))

        // Other keywords stay lower case: `Where` is not `where`.
        #expect(throws: RuleSyntaxError.self) { try RuleText.parse("did purchase Where amount > 1") }
    }

    @Test("names spelled like AND, OR or NOT print in backticks where a keyword could be read, and parse back")
    func namesLikeCapitalKeywords() throws {
        let rule = Rule.any([
            .behavior(
                BehaviorCondition(
                    event: "NOT", filters: [PropertyFilter(property: "AND", test: .exists), PropertyFilter(property: "Or", test: .exists)])),
            .tag(TagCondition(tag: "OR")),
            .segment(SegmentCondition(segment: "And")),
        ])
        let text = RuleText.print(rule)
        #expect(text == "did `NOT` where `AND` exists and `Or` exists or has tag OR or in segment And")
        #expect(try RuleText.parse(text) == rule)
    }

    @Test(
        "running out of text says where the rule ends, never 'unexpected the end of the rule'",
        arguments: [
            ("did", "the rule ends after 'did'", ["an event name"]),
            ("did purchase at least", "the rule ends after 'least'", ["a count"]),
            ("has tag vip and", "the rule ends after 'and'", ["'did'"]),
            ("profile.tier =   # a comment\n", "the rule ends after '='", ["a string", "a number", "true", "false", "a time"]),
            ("(has tag vip", "the rule ends after 'vip'", ["')'"]),
            ("profile.note = \"a very long string that goes on and on\" and", "the rule ends after 'and'", ["'did'"]),
            ("", "the rule is empty", ["'did'"]),
            ("   # only a comment", "the rule is empty", ["'did'"]),
        ])
    func endOfText(text: String, message: String, expected: [String]) throws {
        let error = try #require(Self.error(text))
        #expect(error.message == message)
        #expect(Array(error.expected.prefix(expected.count)) == expected)
        #expect(!error.description.contains("unexpected the end"))
    }

    @Test("a long last token is cut in the message")
    func longLastToken() throws {
        let error = try #require(Self.error("profile.note = \"\(String(repeating: "x", count: 100))\" or"))
        #expect(error.message == "the rule ends after 'or'")
        let cut = try #require(Self.error("did \(String(repeating: "e", count: 100)) at least"))
        #expect(cut.message == "the rule ends after 'least'")
        let longName = try #require(Self.error("has tag vip and did \(String(repeating: "e", count: 100)) where"))
        #expect(longName.message == "the rule ends after 'where'")
        let quoted = try #require(Self.error("has tag `\(String(repeating: "n", count: 40))` and"))
        #expect(quoted.message == "the rule ends after 'and'")
        let longEnd = try #require(Self.error("did purchase where `\(String(repeating: "n", count: 40))`"))
        #expect(longEnd.message == "the rule ends after '`\(String(repeating: "n", count: 28))…'")
    }
}
