import Foundation
import SegmentRules
import SegmentdTestSupport
import Testing

@Suite("Rule validation and compilation safety")
struct RuleValidatorTests {
    static let catalog = RuleCatalog(
        attributes: ["tier": .string, "age": .number, "signed_up_at": .timestamp, "interests": .stringList, "newsletter": .bool],
        properties: ["purchase": ["amount": .number, "currency": .string]],
        events: ["purchase", "app_open"], tags: ["vip"], campaigns: ["spring_sale"], segments: ["high_value", "new_signups"],
        segmentsWithMembers: ["high_value"])

    static func diagnostics(_ text: String) throws -> [String] {
        RuleValidator.validate(try RuleText.parse(text), catalog: catalog).map(\.description)
    }

    @Test func typeMismatchesAreErrorsNamingTheAttributeAndItsType() throws {
        #expect(
            try Self.diagnostics("profile.age = \"old\"") == ["error: attribute: profile.age is a number; compare it with a number, not a string"])
        #expect(
            try Self.diagnostics("profile.interests = \"books\"") == [
                "error: attribute: profile.interests is a string list; use contains, contains any or contains all"
            ])
        #expect(
            try Self.diagnostics("profile.tier more than 3d ago") == [
                "error: attribute: profile.tier is a string; more than … ago and less than … ago apply to timestamps"
            ])
        #expect(
            try Self.diagnostics("sum(purchase.currency) > 3") == [
                "error: behavior.aggregate: purchase.currency is a string, not a number: it cannot be summed or averaged"
            ])
        #expect(
            try Self.diagnostics("did purchase where amount starts with \"1\"") == [
                "error: behavior.where[0]: purchase.amount is a number; starts with and ends with apply to strings"
            ])
        #expect(try Self.diagnostics("profile.signed_up_at > 2026-01-01 and profile.age between 1 and 2 and profile.newsletter = true").isEmpty)
    }

    @Test func unknownNamesAreWarnings() throws {
        #expect(
            try Self.diagnostics("did refund or has tag gold or profile.shoe_size > 3 or clicked campaign x or in segment new_signups") == [
                "warning: any[0].behavior: no refund event has been received yet",
                "warning: any[1].tag: there is no tag gold yet",
                "warning: any[2].attribute: no profile has the attribute shoe_size yet",
                "warning: any[3].response: no response to campaign \"x\" has been recorded yet",
                "warning: any[4].segment: segment new_signups has no members yet",
            ])
    }

    @Test func unknownNamesCloseToKnownOnesSuggestThem() throws {
        let rule = try RuleText.parse(
            """
            did purchse in last 7d or did purchase where amont > 3 or sum(purchase.amout) > 3 or has tag vpi
            or profile.teir = "gold" or clicked campaign spring_sael or in segment high_valeu
            """)
        let diagnostics = RuleValidator.validate(rule, catalog: Self.catalog)
        #expect(diagnostics.map(\.suggestion) == ["purchase", "amount", "amount", "vip", "tier", "spring_sale", "high_value"])
        #expect(
            diagnostics.map(\.description) == [
                "warning: any[0].behavior: no purchse event has been received yet; did you mean purchase?",
                "warning: any[1].behavior.where[0]: purchase events have never had the property amont; did you mean amount?",
                "warning: any[2].behavior.aggregate: purchase events have never had the property amout; did you mean amount?",
                "warning: any[3].tag: there is no tag vpi yet; did you mean vip?",
                "warning: any[4].attribute: no profile has the attribute teir yet; did you mean tier?",
                "warning: any[5].response: no response to campaign \"spring_sael\" has been recorded yet; did you mean spring_sale?",
                "error: any[6].segment: segment high_valeu does not exist (or is deleted); did you mean high_value?",
            ])
        // Nothing close: no suggestion, and the message ends where it did.
        #expect(try Self.diagnostics("did refund") == ["warning: behavior: no refund event has been received yet"])
    }

    /// Saving refuses a reference to a segment that does not exist; checking must say the same.
    @Test func aReferenceToAMissingSegmentIsAnErrorAndToAnEmptyOneAWarning() throws {
        #expect(try Self.diagnostics("in segment nope") == ["error: segment: segment nope does not exist (or is deleted)"])
        #expect(try Self.diagnostics("in segment new_signups") == ["warning: segment: segment new_signups has no members yet"])
        #expect(try Self.diagnostics("in segment high_value").isEmpty)
    }

    @Test func malformedValuesAndLimitsAreErrors() throws {
        #expect(
            try Self.diagnostics("did `Bad Name`") == [
                "error: behavior: \"Bad Name\" is not a valid event name: 1-64 characters of a-z, 0-9 and _, starting with a letter"
            ])
        #expect(try Self.diagnostics("did purchase in last 0d") == ["error: behavior.window: a duration must be positive"])
        #expect(
            try Self.diagnostics("did purchase between 2026-02-01 and 2026-01-01").first?.hasPrefix("error: behavior.window: the window's start")
                == true)
        #expect(
            try Self.diagnostics("within 0km of (91, 0)") == [
                "error: location: the latitude must be between -90 and 90", "error: location: the radius must be more than 0 m and at most 20,000 km",
            ])
        let wide = Rule.any((0..<600).map { _ in .tag(TagCondition(tag: "vip")) })
        #expect(
            RuleValidator.validate(wide, catalog: Self.catalog).map(\.description) == [
                "error: the rule has 601 conditions and groups; the limit is 500"
            ])
        var deep = Rule.tag(TagCondition(tag: "vip"))
        for _ in 0..<40 { deep = .not(deep) }
        #expect(
            RuleValidator.validate(deep, catalog: Self.catalog).map(\.description) == ["error: the rule is nested 41 levels deep; the limit is 32"])
    }

    @Test func segmentCyclesAreNamed() {
        let others = ["b": ["c"], "c": ["a"], "d": []]
        #expect(SegmentReferences.cycle(saving: "a", references: ["d", "b"], others: others) == ["a", "b", "c", "a"])
        #expect(SegmentReferences.cycle(saving: "a", references: ["a"], others: [:]) == ["a", "a"])
        #expect(SegmentReferences.cycle(saving: "a", references: ["d"], others: others) == nil)
        #expect(SegmentReferences.referenced(by: try! RuleText.parse("in segment x and (not in segment y or in segment x)")) == ["x", "y"])
    }

    /// Every value and name is a bound parameter: over thousands of random rules
    /// with hostile names and values, the SQL text holds only the compiler's own words.
    @Test func compiledSQLHoldsNoValueFromTheRule() {
        let context = EvaluationContext(
            now: Date(timeIntervalSince1970: 1_790_000_000), tenantTimeZone: TimeZone(identifier: "Europe/Istanbul")!, lastCampaign: "last'one")
        let hostileCatalog = RuleCatalog(
            attributes: Dictionary(
                uniqueKeysWithValues: RandomRules.Vocabulary.hostile.attributes.enumerated().map { ($1, ValueType.allCases[$0 % 5]) }),
            properties: Dictionary(
                uniqueKeysWithValues: RandomRules.Vocabulary.hostile.events.map { event in
                    (
                        event,
                        Dictionary(
                            uniqueKeysWithValues: (RandomRules.Vocabulary.hostile.numericProperties.map { ($0, ValueType.number) }
                                + RandomRules.Vocabulary.hostile.stringProperties.map { ($0, ValueType.string) }).map { ($0.0, $0.1) })
                    )
                }))
        // The compiler's own quoted words.
        let allowed: Set<String> = [
            "'number'", "'string'", "'boolean'", "'array'", "'ABCDEFGHIJKLMNOPQRSTUVWXYZ'", "'abcdefghijklmnopqrstuvwxyz'",
            "'day'", "'week'", "'month'", "'1 day'", "'1 week'", "'1 month'", "'UTC'", "'s'", "'n'", "'mn'", "'mx'",
        ]
        for seed in UInt64(1)...2000 {
            var generator = RandomRules(seed: seed)
            let rule = generator.rule()
            let query = RuleSQLCompiler.compile(rule, tenant: "t'; --", catalog: hostileCatalog, context: context)
            var text = query.sql
            for word in allowed { text = text.replacingOccurrences(of: word, with: "") }
            let suspicious = text.unicodeScalars.filter { !$0.isASCII || $0 == "'" || $0 == "\"" || $0 == ";" || $0 == "`" || $0 == "\\" }
            #expect(suspicious.isEmpty, "seed \(seed): \(RuleText.print(rule))\n\(query.sql)")
            #expect(!text.contains("$$"), "seed \(seed)")
            // Every placeholder has a value.
            let placeholders = Set(query.sql.matches(of: /\$(\d+)/).map { Int($0.1)! })
            #expect(placeholders.isSubset(of: Set(1...query.parameters.count)), "seed \(seed)")
            if !suspicious.isEmpty { return }
        }
    }
}
