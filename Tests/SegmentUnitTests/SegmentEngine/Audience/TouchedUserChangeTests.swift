import Foundation
import SegmentRules
import Testing

@testable import SegmentEngine
@testable import SegmentStore

/// A real-time cycle evaluates a user ingest touched only in the segments that read
/// what changed for them: the overlay says what changed (events of which types, or
/// anything), and a segment is affected when it reads an arrived type or references
/// an affected segment. Saying too little here would leave a user in a segment they
/// left; these tests pin each way a change must widen to "anything".
@Suite("Touched users: what changed, and which real-time segments it can move")
struct TouchedUserChangeTests {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    static func event(_ name: String, _ offset: TimeInterval) -> UserEvent {
        UserEvent(name: name, time: now.addingTimeInterval(offset))
    }

    static func catchUp(
        _ users: [UInt32: UserFacts], appended: [UInt32: [UserEvent]] = [:], removed: [UInt32] = []
    ) -> AudienceCatchUp {
        var catchUp = AudienceCatchUp(takenAt: now, databaseSnapshot: "")
        for (user, facts) in users { catchUp.users[user] = ("user-\(user)", facts) }
        catchUp.appendedEvents = appended
        catchUp.removed = removed
        return catchUp
    }

    @Test func firstReadThenAppendedEvents() {
        var overlay = AudienceOverlay()
        let profile: [String: RuleValue] = ["tier": .string("gold")]
        overlay.apply(Self.catchUp([1: UserFacts(attributes: profile, events: [Self.event("purchase", -60)])]))
        #expect(overlay.change(of: 1, after: 0) == .anything)  // read whole: anything may have changed
        #expect(overlay.change(of: 1, after: 1) == .events([]))

        // Appended events with the same profile: only their types.
        overlay.apply(Self.catchUp([1: UserFacts(attributes: profile)], appended: [1: [Self.event("page_view", -10)]]))
        overlay.apply(Self.catchUp([1: UserFacts(attributes: profile)], appended: [1: [Self.event("add_to_cart", -5)]]))
        #expect(overlay.change(of: 1, after: 1) == .events(["page_view", "add_to_cart"]))
        #expect(overlay.change(of: 1, after: 2) == .events(["add_to_cart"]))
        #expect(overlay.change(of: 1, after: 0) == .anything)
        #expect(overlay.facts[1]?.events.map(\.name) == ["purchase", "page_view", "add_to_cart"])
    }

    @Test func aProfileTagResponseOrLocationChangeIsAnything() {
        let changes: [UserFacts] = [
            UserFacts(attributes: ["tier": .string("silver")]),
            UserFacts(attributes: ["tier": .string("gold")], tags: ["vip"]),
            UserFacts(attributes: ["tier": .string("gold")], responses: [UserResponse(campaign: "c1", kind: .clicked, time: Self.now)]),
            UserFacts(attributes: ["tier": .string("gold")], lastLocation: LastLocation(latitude: 1, longitude: 2, time: Self.now)),
        ]
        for changed in changes {
            var overlay = AudienceOverlay()
            overlay.apply(Self.catchUp([7: UserFacts(attributes: ["tier": .string("gold")])]))
            overlay.apply(Self.catchUp([7: changed], appended: [7: [Self.event("purchase", -1)]]))
            #expect(overlay.change(of: 7, after: 1) == .anything, "\(changed)")
        }
    }

    @Test func aRemovalIsAnything() {
        var overlay = AudienceOverlay()
        overlay.apply(Self.catchUp([3: UserFacts(events: [Self.event("purchase", -60)])]))
        overlay.apply(Self.catchUp([3: UserFacts()], appended: [3: [Self.event("purchase", -1)]]))
        overlay.apply(Self.catchUp([:], removed: [3]))
        #expect(overlay.change(of: 3, after: 2) == .anything)
        #expect(overlay.facts[3] == nil)
    }

    @Test func affectedSegmentsFollowReadsAndReferences() throws {
        let rules = [
            ("carts", "did add_to_cart in last 24h"),
            ("viewers", "did page_view at least 3 times"),
            ("carts_gold", "in segment carts and profile.tier = \"gold\""),
            ("carts_gold_vip", "in segment carts_gold and has tag vip"),
            ("gold", "profile.tier = \"gold\""),
        ]
        let segments = try rules.map { RealtimeSegmentRow(segmentID: $0.0, rule: try RuleText.parse($0.1), revision: 1) }
        let reads = Dictionary(uniqueKeysWithValues: segments.map { ($0.segmentID, $0.rule.eventNames) })
        func affected(_ change: AudienceOverlay.UserChange) -> [String] {
            RealtimeTenant.segments(segments, affectedBy: change, reads: reads).map(\.segmentID)
        }
        #expect(affected(.events(["add_to_cart"])) == ["carts", "carts_gold", "carts_gold_vip"])
        #expect(affected(.events(["page_view", "purchase"])) == ["viewers"])
        #expect(affected(.events(["purchase"])) == [])
        #expect(affected(.events([])) == [])
        #expect(affected(.anything) == rules.map(\.0))
    }
}
