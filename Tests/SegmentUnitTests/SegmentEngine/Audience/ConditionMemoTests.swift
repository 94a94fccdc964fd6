import Foundation
import SegmentRules
import Testing

@testable import SegmentEngine

@Suite("Conditions kept per state: only those the data alone decides, within a byte bound")
struct ConditionMemoTests {
    @Test(
        "fixed: no window or absolute windows, absolute value tests, specific or any campaign, tags, places; not fixed: rolling and calendar windows, '… ago', last campaign, segments",
        arguments: [
            ("did purchase", true), ("did purchase since 2026-01-01 where amount > 10", true), ("sum(purchase.amount) >= 5", true),
            ("last time did purchase was before 2026-01-01", true), ("profile.tier = \"gold\"", true), ("has tag vip", true),
            ("opened campaign c1 between 2026-01-01 and 2026-02-01", true), ("within 10km of (41, 29)", true),
            ("not (has tag vip or did app_open)", true), ("did purchase in last 7d", false), ("did purchase today", false),
            ("first time did app_open was in last 7d", false), ("profile.signed_up_at more than 30d ago", false),
            ("did purchase where paid_at less than 2d ago", false), ("clicked last campaign", false), ("in segment buyers", false),
            ("location seen in last 7d", false), ("has tag vip and did purchase in last 24h", false),
        ])
    func fixedOverColumns(_ text: String, _ fixed: Bool) throws {
        #expect(try RuleText.parse(text).isFixedOverColumns == fixed, "\(text)")
    }

    @Test("a kept condition is answered without evaluating; past the byte bound the memo starts over")
    func keepsAndBounds() throws {
        // 1,000 words a bitmap. Bytes held are the words' capacity, which the allocator may round up
        // a little (a few words, not a thousand): the bound holds three bitmaps, not four.
        let words = 1_000
        let memo = ConditionMemo(maxBytes: 3 * words * 8 + 512)
        var evaluations = 0
        var made: [MemberBitmap] = []
        func members(_ text: String) throws -> MemberBitmap {
            try memo.members(RuleText.parse(text)) {
                evaluations += 1
                let bitmap = MemberBitmap.all(below: words * 64)
                made.append(bitmap)
                return bitmap
            }
        }
        _ = try members("has tag a")
        _ = try members("has tag a")
        #expect(evaluations == 1 && memo.counts == (reused: 1, evaluated: 1))
        _ = try members("has tag b")
        _ = try members("has tag c")
        #expect(memo.bytesHeld == made.reduce(0) { $0 + $1.bytesHeld })
        _ = try members("has tag d")  // over the bound: starts over with d alone
        #expect(memo.bytesHeld == made[3].bytesHeld)
        _ = try members("has tag a")
        #expect(evaluations == 5)
    }

    @Test(
        "fixed at an instant: everything fixed, and rolling or calendar windows and '… ago'; never the last campaign or a segment",
        arguments: [
            ("did purchase", true), ("did purchase in last 7d", true), ("did purchase today", true),
            ("profile.signed_up_at more than 30d ago", true), ("has tag vip and did purchase in last 24h", true),
            ("location seen in last 7d", true), ("clicked last campaign", false), ("in segment buyers", false),
            ("did purchase in last 7d and in segment buyers", false),
        ])
    func fixedAtInstant(_ text: String, _ fixed: Bool) throws {
        #expect(try RuleText.parse(text).isFixedAtInstant == fixed, "\(text)")
    }

    @Test("a time-dependent condition is kept for its instant and zone only, and only for the latest instant")
    func keptPerInstant() throws {
        let memo = ConditionMemo()
        let rule = try RuleText.parse("did purchase in last 7d")
        var evaluations = 0
        func members(_ seconds: TimeInterval, zone: String = "UTC") -> MemberBitmap {
            memo.members(rule, at: ConditionMemo.Instant(now: Date(timeIntervalSince1970: seconds), zone: zone)) {
                evaluations += 1
                return MemberBitmap([UInt32(seconds)])
            }
        }
        #expect(members(100) == MemberBitmap([100]) && members(100) == MemberBitmap([100]) && evaluations == 1)
        #expect(members(100, zone: "Europe/Istanbul") == MemberBitmap([100]) && evaluations == 2, "another zone is another answer")
        #expect(members(200) == MemberBitmap([200]) && evaluations == 3, "another instant is another answer")
        _ = members(100)
        _ = members(100)
        #expect(evaluations == 5, "an earlier instant than the latest is evaluated, not kept")
        _ = members(200)
        #expect(evaluations == 5 && memo.counts.reused == 2)
    }
}
