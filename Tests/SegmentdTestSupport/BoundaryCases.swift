import Foundation
import SegmentRules

/// Hand-computed cases at the edges of every operator: each is one user's
/// facts, a rule and whether that user matches. The evaluator's unit tests and
/// the SQL compiler's integration test run the same table.
public enum BoundaryCases {
    /// Wednesday 2026-11-25 14:30 UTC: 17:30 in Istanbul (the tenant), 23:30 in Tokyo, 09:30 in New York.
    public static let now = Date(timeIntervalSince1970: 1_795_617_000)
    public static let tenantZone = "Europe/Istanbul"
    /// The campaign with the latest first send among the fixture's campaigns.
    public static let lastCampaign = "new_campaign"

    public struct Case: Sendable {
        public let name: String
        public let rule: String
        public let facts: UserFacts
        public let expected: Bool
    }

    static func at(_ iso: String) -> Date {
        try! Date(iso, strategy: Date.ISO8601FormatStyle())
    }

    static func ago(_ seconds: Double) -> Date { now.addingTimeInterval(-seconds) }

    static func events(_ name: String, _ times: [Date], _ properties: [String: RuleValue] = [:]) -> [UserEvent] {
        times.map { UserEvent(name: name, time: $0, properties: properties) }
    }

    static let day = 86_400.0

    /// Responses that make `new_campaign` the last campaign (given to a helper user).
    public static let campaignFixture: UserFacts = UserFacts(responses: [
        UserResponse(campaign: "old_campaign", kind: .received, time: ago(10 * day)),
        UserResponse(campaign: "new_campaign", kind: .received, time: ago(2 * day)),
    ])

    public static let all: [Case] = [
        // Rolling windows include their start and reach to now.
        Case(
            name: "24h window includes an event exactly 24h ago", rule: "did app_open in last 24h",
            facts: UserFacts(events: events("app_open", [ago(day)])), expected: true),
        Case(
            name: "24h window excludes an event a second earlier", rule: "did app_open in last 24h",
            facts: UserFacts(events: events("app_open", [ago(day + 1)])), expected: false),
        Case(
            name: "since includes its instant", rule: "did app_open since 2026-11-20",
            facts: UserFacts(events: events("app_open", [at("2026-11-20T00:00:00Z")])), expected: true),
        Case(
            name: "before excludes its instant", rule: "did app_open before 2026-11-20",
            facts: UserFacts(events: events("app_open", [at("2026-11-20T00:00:00Z")])), expected: false),
        Case(
            name: "between includes the start, excludes the end", rule: "did app_open between 2026-11-20 and 2026-11-21",
            facts: UserFacts(events: events("app_open", [at("2026-11-21T00:00:00Z")])), expected: false),
        // Counts.
        Case(
            name: "exactly 3 with 3", rule: "did app_open exactly 3 times",
            facts: UserFacts(events: events("app_open", [ago(10), ago(20), ago(30)])), expected: true),
        Case(
            name: "exactly 3 with 4", rule: "did app_open exactly 3 times",
            facts: UserFacts(events: events("app_open", [ago(10), ago(20), ago(30), ago(40)])), expected: false),
        Case(name: "at most 2 holds for a user with no events", rule: "did app_open at most 2 times", facts: UserFacts(), expected: true),
        Case(name: "did not holds for a user with no events", rule: "did not app_open", facts: UserFacts(), expected: true),
        Case(name: "NOT over a user with no events", rule: "not did app_open in last 7d", facts: UserFacts(), expected: true),
        Case(
            name: "between 2 and 3 times is inclusive", rule: "did app_open between 2 and 3 times in last 7d",
            facts: UserFacts(events: events("app_open", [ago(10), ago(20)])), expected: true),
        Case(
            name: "a property filter narrows the count", rule: "did purchase at least 2 times where currency = \"EUR\"",
            facts: UserFacts(
                events: events("purchase", [ago(10)], ["currency": .string("EUR")]) + events("purchase", [ago(20)], ["currency": .string("USD")])),
            expected: false),
        Case(
            name: "a filter on a missing property fails", rule: "did purchase where amount > 0",
            facts: UserFacts(events: events("purchase", [ago(10)])), expected: false),
        // Calendar windows in the tenant's zone (Istanbul, UTC+3): today began 2026-11-24T21:00Z.
        Case(
            name: "today starts at the tenant's midnight", rule: "did app_open today",
            facts: UserFacts(events: events("app_open", [at("2026-11-24T21:00:00Z")])), expected: true),
        Case(
            name: "a second before the tenant's midnight is yesterday", rule: "did app_open today",
            facts: UserFacts(events: events("app_open", [at("2026-11-24T20:59:59Z")])), expected: false),
        Case(
            name: "yesterday ends at the tenant's midnight", rule: "did app_open yesterday",
            facts: UserFacts(events: events("app_open", [at("2026-11-24T20:59:59Z")])), expected: true),
        Case(
            name: "this week starts Monday at the tenant's midnight", rule: "did app_open this week",
            facts: UserFacts(events: events("app_open", [at("2026-11-22T21:00:00Z")])), expected: true),
        Case(
            name: "Sunday night is last week", rule: "did app_open last week",
            facts: UserFacts(events: events("app_open", [at("2026-11-22T20:59:59Z")])), expected: true),
        Case(
            name: "this month starts on the 1st at the tenant's midnight", rule: "did app_open this month",
            facts: UserFacts(events: events("app_open", [at("2026-10-31T21:00:00Z")])), expected: true),
        // The user's own zone (Tokyo, UTC+9): their today began 2026-11-24T15:00Z.
        Case(
            name: "user time zone: Tokyo's midnight counts", rule: "did app_open today in user time zone",
            facts: UserFacts(attributes: ["time_zone": .string("Asia/Tokyo")], events: events("app_open", [at("2026-11-24T15:00:00Z")])),
            expected: true),
        Case(
            name: "user time zone: a second before Tokyo's midnight does not", rule: "did app_open today in user time zone",
            facts: UserFacts(attributes: ["time_zone": .string("Asia/Tokyo")], events: events("app_open", [at("2026-11-24T14:59:59Z")])),
            expected: false),
        Case(
            name: "tenant zone ignores the user's zone", rule: "did app_open today",
            facts: UserFacts(attributes: ["time_zone": .string("Asia/Tokyo")], events: events("app_open", [at("2026-11-24T15:00:00Z")])),
            expected: false),
        Case(
            name: "user time zone falls back to the tenant's without one", rule: "did app_open today in user time zone",
            facts: UserFacts(events: events("app_open", [at("2026-11-24T21:00:00Z")])), expected: true),
        Case(
            name: "user time zone: New York's today began at 05:00Z", rule: "did app_open today in user time zone",
            facts: UserFacts(attributes: ["time_zone": .string("America/New_York")], events: events("app_open", [at("2026-11-25T04:59:59Z")])),
            expected: false),
        // Aggregates.
        Case(
            name: "sum over two purchases", rule: "sum(purchase.amount) >= 10",
            facts: UserFacts(events: events("purchase", [ago(10)], ["amount": .number(4)]) + events("purchase", [ago(20)], ["amount": .number(6)])),
            expected: true),
        Case(name: "sum of nothing is 0", rule: "sum(purchase.amount) < 5", facts: UserFacts(), expected: true),
        Case(name: "average of nothing does not exist", rule: "avg(purchase.amount) < 5", facts: UserFacts(), expected: false),
        Case(
            name: "max picks the largest", rule: "max(purchase.amount) = 6",
            facts: UserFacts(events: events("purchase", [ago(10)], ["amount": .number(4)]) + events("purchase", [ago(20)], ["amount": .number(6)])),
            expected: true),
        Case(
            name: "avg over a window", rule: "avg(purchase.amount) in last 1d between 4.5 and 5",
            facts: UserFacts(
                events: events("purchase", [ago(10)], ["amount": .number(4)]) + events("purchase", [ago(20)], ["amount": .number(5.5)])
                    + events("purchase", [ago(2 * day)], ["amount": .number(100)])),
            expected: true),
        // First and last.
        Case(
            name: "first purchase 3 days ago is within 7 days", rule: "first time did purchase was in last 7d",
            facts: UserFacts(events: events("purchase", [ago(3 * day)])), expected: true),
        Case(
            name: "an older purchase makes the first one older", rule: "first time did purchase was in last 7d",
            facts: UserFacts(events: events("purchase", [ago(3 * day), ago(10 * day)])), expected: false),
        Case(
            name: "last purchase before a date", rule: "last time did purchase was before 2026-11-01",
            facts: UserFacts(events: events("purchase", [at("2026-10-31T23:59:59Z")])), expected: true),
        Case(name: "never purchased has no last time", rule: "last time did purchase was before 2026-11-01", facts: UserFacts(), expected: false),
        // Profile attributes.
        Case(name: "!= needs the attribute set", rule: "profile.tier != \"gold\"", facts: UserFacts(), expected: false),
        Case(name: "is not set without a profile", rule: "profile.tier is not set", facts: UserFacts(), expected: true),
        Case(
            name: "not in needs the attribute set", rule: "profile.tier not in [\"gold\"]", facts: UserFacts(attributes: ["tier": .string("silver")]),
            expected: true),
        Case(
            name: "more than 30d ago: exactly 30 days is not more", rule: "profile.signed_up_at more than 30d ago",
            facts: UserFacts(attributes: ["signed_up_at": .time(ago(30 * day))]), expected: false),
        Case(
            name: "more than 30d ago: a second more is", rule: "profile.signed_up_at more than 30d ago",
            facts: UserFacts(attributes: ["signed_up_at": .time(ago(30 * day + 1))]), expected: true),
        Case(
            name: "less than 7d ago excludes the future", rule: "profile.renews_at less than 7d ago",
            facts: UserFacts(attributes: ["renews_at": .time(now.addingTimeInterval(60))]), expected: false),
        Case(
            name: "between is inclusive at both ends", rule: "profile.age between 18 and 30", facts: UserFacts(attributes: ["age": .number(30)]),
            expected: true),
        Case(
            name: "between excludes past the end", rule: "profile.age between 18 and 30", facts: UserFacts(attributes: ["age": .number(30.5)]),
            expected: false),
        Case(
            name: "date comparison", rule: "profile.signed_up_at >= 2026-11-01",
            facts: UserFacts(attributes: ["signed_up_at": .time(at("2026-11-01T00:00:00Z"))]), expected: true),
        Case(
            name: "contains any on a list", rule: "profile.interests contains any [\"books\", \"shoes\"]",
            facts: UserFacts(attributes: ["interests": .list(["shoes", "home"])]), expected: true),
        Case(
            name: "contains all on a list", rule: "profile.interests contains all [\"books\", \"shoes\"]",
            facts: UserFacts(attributes: ["interests": .list(["shoes", "home"])]), expected: false),
        Case(
            name: "contains on a string is a substring", rule: "profile.email contains \"@example.\"",
            facts: UserFacts(attributes: ["email": .string("ada@example.com")]), expected: true),
        Case(
            name: "strings compare by bytes, not Unicode equivalence", rule: "profile.nickname = \"\u{E9}\"",
            facts: UserFacts(attributes: ["nickname": .string("e\u{301}")]), expected: false),
        Case(
            name: "starts with is case-sensitive", rule: "profile.nickname starts with \"Ad\"",
            facts: UserFacts(attributes: ["nickname": .string("ada")]), expected: false),
        Case(name: "booleans", rule: "profile.newsletter = true", facts: UserFacts(attributes: ["newsletter": .bool(true)]), expected: true),
        // Responses.
        Case(
            name: "did not click the last campaign after clicking an older one", rule: "not clicked last campaign",
            facts: UserFacts(responses: [UserResponse(campaign: "old_campaign", kind: .clicked, time: ago(9 * day))]), expected: true),
        Case(
            name: "clicked the last campaign", rule: "clicked last campaign",
            facts: UserFacts(responses: [UserResponse(campaign: "new_campaign", kind: .clicked, time: ago(day))]), expected: true),
        Case(
            name: "opened any campaign in a window", rule: "opened any campaign in last 3d",
            facts: UserFacts(responses: [UserResponse(campaign: "old_campaign", kind: .opened, time: ago(4 * day))]), expected: false),
        // Tags and segments.
        Case(name: "has no tag without tags", rule: "has no tag vip", facts: UserFacts(), expected: true),
        Case(name: "has tag", rule: "has tag vip", facts: UserFacts(tags: ["vip"]), expected: true),
        Case(name: "in segment", rule: "in segment high_value", facts: UserFacts(segments: ["high_value"]), expected: true),
        Case(name: "not in segment without memberships", rule: "not in segment high_value", facts: UserFacts(), expected: true),
        // Location.
        Case(
            name: "within a radius, at the centre", rule: "within 1km of (41.01, 28.97)",
            facts: UserFacts(lastLocation: LastLocation(latitude: 41.01, longitude: 28.97, time: ago(60))), expected: true),
        Case(
            name: "outside the radius (~1.1 km north)", rule: "within 1km of (41.01, 28.97)",
            facts: UserFacts(lastLocation: LastLocation(latitude: 41.02, longitude: 28.97, time: ago(60))), expected: false),
        Case(
            name: "seen window on the last location", rule: "location seen in last 1h",
            facts: UserFacts(lastLocation: LastLocation(latitude: 41.01, longitude: 28.97, time: ago(3601))), expected: false),
        Case(
            name: "city is ASCII case-insensitive", rule: "in city \"istanbul\"", facts: UserFacts(attributes: ["city": .string("ISTANBUL")]),
            expected: true),
        Case(name: "country", rule: "in country \"TR\"", facts: UserFacts(attributes: ["country": .string("FR")]), expected: false),
        // Groups.
        Case(name: "an empty all holds", rule: "all()", facts: UserFacts(), expected: true),
        Case(name: "an empty any does not", rule: "any()", facts: UserFacts(), expected: false),
    ]
}
