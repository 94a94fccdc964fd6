import Foundation
import SegmentRules
import Testing

/// When time alone can change a rule for one user: never late (the instant a
/// condition flips is always offered), and nil when only data can change it.
@Suite("RuleEdges: the next instant time alone may change a rule")
struct RuleEdgesTests {
    /// 2026-11-20T14:00:00Z.
    static let now = Date(timeIntervalSince1970: 1_795_615_200)

    static func next(_ text: String, _ facts: UserFacts, at now: Date = now, zone: String = "UTC") throws -> Date? {
        let context = EvaluationContext(now: now, tenantTimeZone: TimeZone(identifier: zone)!)
        return RuleEdges(context: context).next(try RuleText.parse(text), facts)
    }

    static func matches(_ text: String, _ facts: UserFacts, at now: Date) throws -> Bool {
        RuleEvaluator(context: EvaluationContext(now: now)).matches(try RuleText.parse(text), facts)
    }

    @Test("a rolling window: the event's age reaches the window at the edge, and the rule flips just after it")
    func rollingWindow() throws {
        let cart = Self.now.addingTimeInterval(-3600)
        let facts = UserFacts(events: [UserEvent(name: "add_to_cart", time: cart), UserEvent(name: "app_open", time: Self.now)])
        let rule = "did add_to_cart in last 24h and not did purchase in last 24h"
        let edge = try #require(try Self.next(rule, facts))
        #expect(edge == cart.addingTimeInterval(86_400))
        #expect(try Self.matches(rule, facts, at: edge))
        // At the edge nothing changed: the next candidate is one microsecond later, and there it flips.
        let after = try #require(try Self.next(rule, facts, at: edge))
        #expect(after > edge && after.timeIntervalSince(edge) < 0.000_002)
        #expect(try !Self.matches(rule, facts, at: after))
        #expect(try Self.next(rule, facts, at: after) == nil)
    }

    @Test("walking from edge to edge visits every instant the answer changes (checked minute by minute)")
    func neverLate() throws {
        let base = Self.now
        let facts = UserFacts(
            attributes: ["signed_up_at": .time(base.addingTimeInterval(-50 * 60))],
            events: [
                UserEvent(name: "app_open", time: base.addingTimeInterval(-100 * 60)),
                UserEvent(name: "app_open", time: base.addingTimeInterval(-30 * 60)),
                UserEvent(name: "app_open", time: base.addingTimeInterval(-10 * 60)),
            ])
        for rule in [
            "did app_open at least 2 times in last 1h", "first time did app_open was in last 2h", "last time did app_open was in last 15m",
            "profile.signed_up_at less than 1h ago", "profile.signed_up_at more than 1h ago and not did app_open in last 30m",
        ] {
            var instant = base
            var flips: [Date] = []
            var state = try Self.matches(rule, facts, at: instant)
            let end = base.addingTimeInterval(600 * 60)
            while let next = try Self.next(rule, facts, at: instant), next < end {
                let now = try Self.matches(rule, facts, at: next)
                if now != state { flips.append(next) }
                state = now
                instant = next
            }
            // Minute by minute, the answer only changes where the walk found a flip.
            var expected: [Int] = []
            var previous = try Self.matches(rule, facts, at: base)
            for minute in 1..<600 {
                let value = try Self.matches(rule, facts, at: base.addingTimeInterval(Double(minute * 60)))
                if value != previous { expected.append(minute) }
                previous = value
            }
            #expect(flips.map { Int(($0.timeIntervalSince(base) / 60).rounded(.up)) } == expected, "\(rule)")
            #expect(!flips.isEmpty, "\(rule)")
        }
    }

    @Test("a calendar window turns over at midnight in the user's zone, only for users with data near it")
    func calendar() throws {
        let facts = UserFacts(attributes: ["time_zone": .string("Asia/Tokyo")], events: [UserEvent(name: "purchase", time: Self.now)])
        // 14:00Z is 23:00 in Tokyo: its "today" ends at 15:00Z.
        #expect(try Self.next("did purchase today in user time zone", facts) == Self.now.addingTimeInterval(3600))
        #expect(try Self.next("did purchase today", facts) == Self.now.addingTimeInterval(10 * 3600))
        // "yesterday" moves at the same turn; data from long ago never does.
        let old = UserFacts(events: [UserEvent(name: "purchase", time: Self.now.addingTimeInterval(-10 * 86_400))])
        #expect(try Self.next("did purchase yesterday", old) == nil)
    }

    @Test("fixed dates, tags, attributes without an age test and segment references never move with time")
    func timeless() throws {
        let facts = UserFacts(attributes: ["tier": .string("gold")], events: [UserEvent(name: "purchase", time: Self.now)], tags: ["vip"])
        for rule in ["did purchase since 2026-01-01", "has tag vip", "profile.tier = \"gold\"", "in segment buyers", "did purchase"] {
            #expect(try Self.next(rule, facts) == nil, "\(rule)")
            #expect(!RuleEdges.dependsOnTime(try RuleText.parse(rule)), "\(rule)")
        }
        #expect(RuleEdges.dependsOnTime(try RuleText.parse("has tag vip or clicked any campaign in last 7d")))
    }
}
