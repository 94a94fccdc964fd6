import SegmentRules
import Testing

/// Which event types a rule reads decides which real-time segments a touched user is
/// evaluated in again: a type missed here would leave a member who should have moved.
@Suite("Rule.eventNames: the event types a rule reads")
struct RuleEventNamesTests {
    @Test(
        arguments: [
            ("did purchase", ["purchase"]),
            ("did add_to_cart in last 24h and not did purchase in last 24h", ["add_to_cart", "purchase"]),
            ("sum(purchase.amount) in last 30d >= 500 or (has tag vip and first time did app_open was in last 7d)", ["purchase", "app_open"]),
            ("profile.tier = \"gold\" and has tag vip and in segment churned", []),
            ("not (did page_view at least 3 times or clicked last campaign)", ["page_view"]),
        ])
    func names(rule: String, expected: [String]) throws {
        #expect(try RuleText.parse(rule).eventNames == Set(expected))
    }
}

/// Rules compare strings by bytes, as PostgreSQL does: two spellings of "é" differ.
@Suite("String.hasSameBytes: byte equality")
struct StringSameBytesTests {
    @Test func bytes() {
        #expect("purchase".hasSameBytes(as: "purchase"))
        #expect("".hasSameBytes(as: ""))
        #expect(!"purchase".hasSameBytes(as: "purchases"))
        #expect(!"purchase".hasSameBytes(as: "Purchase"))
        #expect("caf\u{E9}" == "cafe\u{301}")  // Swift's == is canonical equivalence…
        #expect(!"caf\u{E9}".hasSameBytes(as: "cafe\u{301}"))  // …the bytes are not the same
        let bridged = String(decoding: Array("ünïcode".utf8), as: UTF8.self)
        #expect(bridged.hasSameBytes(as: "ünïcode"))
        #expect(Substring("xpurchase").dropFirst().description.hasSameBytes(as: "purchase"))
    }
}
