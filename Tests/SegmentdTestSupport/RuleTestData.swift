import Foundation
import SegmentRules
import SegmentdAPI
import SegmentdClient

/// A seeded data set for rule tests: profiles, events, responses, locations,
/// tags and segment memberships, with values placed on the boundaries rules
/// care about (exactly 24h ago, local midnights, N events exactly).
public struct RuleTestData: Sendable {
    public static let events = ["purchase", "app_open", "add_to_cart", "view_item"]
    public static let campaigns = ["spring_sale", "summer_sale", "welcome"]
    public static let tags = ["vip", "beta"]
    public static let segments = ["high_value", "churn_risk"]
    public static let zones = ["Europe/Istanbul", "America/New_York", "Asia/Tokyo", "UTC"]
    public static let cities: [(name: String, country: String, latitude: Double, longitude: Double)] = [
        ("Istanbul", "TR", 41.01, 28.97), ("New York", "US", 40.71, -74.0), ("Tokyo", "JP", 35.68, 139.69), ("Paris", "FR", 48.86, 2.35),
    ]

    public let now: Date
    public var profiles: [Segmentd_V1_Profile] = []
    public var events: [Segmentd_V1_Event] = []
    public var responses: [Segmentd_V1_CampaignResponse] = []
    public var locations: [Segmentd_V1_LocationUpdate] = []
    /// Tag → user ids.
    public var tagged: [String: [String]] = [:]
    /// Segment → user ids.
    public var members: [String: [String]] = [:]

    /// The vocabulary random rules draw from: the data's names plus some never seen.
    public static func vocabulary(now: Date) -> RandomRules.Vocabulary {
        RandomRules.Vocabulary(
            events: events + ["never_seen"], numericProperties: ["amount", "quantity"], stringProperties: ["currency", "coupon"],
            stringValues: ["EUR", "USD", "TRY", "", "E", "UR", "gold", "books", "shoes"],
            attributes: ["tier", "age", "signed_up_at", "interests", "newsletter", "city", "nickname", "never_set"],
            tags: tags + ["never_tagged"], campaigns: campaigns + ["unknown_campaign"], segments: segments + ["empty_segment"],
            cities: cities.map(\.name) + ["ISTANBUL", "nowhere"], countries: cities.map(\.country) + ["tr", "DE"], anchor: now)
    }

    public init(seed: UInt64, users: Int, now: Date) {
        self.now = now
        var random = SplitMix64(seed: seed)
        func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(random.next() % UInt64(range.count)) }
        func chance(_ p: Double) -> Bool { random.unit() < p }
        func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
        /// A past time: often on a boundary (exact hours/days back, local midnights), else anywhere in 60 days.
        func past() -> Date {
            switch int(0...5) {
            case 0: return now.addingTimeInterval(-Double(pick([1, 24, 48, 7 * 24, 30 * 24])) * 3600)
            case 1:
                // Midnight (and a second either side) in one of the zones, a few days back.
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = TimeZone(identifier: pick(Self.zones))!
                let day = calendar.startOfDay(for: now.addingTimeInterval(-Double(int(0...40)) * 86_400))
                return day.addingTimeInterval(Double(int(-1...1)))
            default: return now.addingTimeInterval(-Double(int(60...(60 * 86_400))))
            }
        }
        for index in 0..<users {
            let user = "u\(index)"
            var attributes: [String: Segmentd_V1_Value] = [:]
            if chance(0.8) { attributes["tier"] = .with { $0.stringValue = pick(["gold", "silver", "bronze", "Gold", "gold "]) } }
            if chance(0.8) { attributes["age"] = .with { $0.numberValue = Double(int(16...70)) + (chance(0.2) ? 0.5 : 0) } }
            if chance(0.7) { attributes["signed_up_at"] = .with { $0.timestampValue = .init(date: past()) } }
            if chance(0.6) {
                attributes["interests"] = .with {
                    $0.stringListValue = .with { $0.values = (0..<int(0...3)).map { _ in pick(["books", "shoes", "gold", "EUR"]) } }
                }
            }
            if chance(0.5) { attributes["newsletter"] = .with { $0.boolValue = chance(0.5) } }
            if chance(0.5) { attributes["nickname"] = .with { $0.stringValue = pick(["EUR", "Ed", "UR", "", "é", "e\u{301}"]) } }
            let city = pick(Self.cities)
            if chance(0.8) {
                attributes["city"] = .with { $0.stringValue = chance(0.2) ? city.name.uppercased() : city.name }
                attributes["country"] = .with { $0.stringValue = city.country }
            }
            if chance(0.8) { attributes["time_zone"] = .with { $0.stringValue = pick(Self.zones) } }
            let hasProfile = !attributes.isEmpty || chance(0.5)
            if hasProfile {
                profiles.append(
                    .with {
                        $0.userID = user
                        $0.attributes = attributes
                        if chance(0.5) {
                            $0.lastLocation = .with {
                                $0.latitude = city.latitude + Double(int(-50...50)) / 100
                                $0.longitude = city.longitude + Double(int(-50...50)) / 100
                            }
                        }
                    })
            }
            if chance(0.3) {
                locations.append(
                    .with {
                        $0.userID = user
                        $0.point = .with {
                            $0.latitude = city.latitude + Double(int(-20...20)) / 100
                            $0.longitude = city.longitude
                        }
                        $0.time = .init(date: past())
                    })
            }
            for _ in 0..<(chance(0.15) ? 0 : int(1...14)) {
                let name = pick(Self.events)
                var properties: [String: Segmentd_V1_Value] = [:]
                if name == "purchase" || chance(0.2) {
                    if chance(0.9) { properties["amount"] = .with { $0.numberValue = Double(int(0...2000)) / 4 } }
                    if chance(0.8) { properties["currency"] = .with { $0.stringValue = pick(["EUR", "USD", "TRY"]) } }
                    if chance(0.3) { properties["quantity"] = .with { $0.numberValue = Double(int(1...5)) } }
                }
                events.append(
                    .with {
                        $0.userID = user
                        $0.name = name
                        $0.time = .init(date: past())
                        $0.messageID = "m\(events.count)"
                        $0.properties = properties
                    })
            }
            for campaign in Self.campaigns where chance(0.5) {
                var kinds: [Segmentd_V1_ResponseKind] = [.received]
                if chance(0.5) { kinds.append(.opened) }
                if kinds.count == 2, chance(0.5) { kinds.append(.clicked) }
                if kinds.count == 3, chance(0.4) { kinds.append(.converted) }
                if chance(0.1) { kinds = [.opened] }  // An open without a recorded send.
                let base = past()
                for (offset, kind) in kinds.enumerated() {
                    responses.append(
                        .with {
                            $0.userID = user
                            $0.campaignID = campaign
                            $0.kind = kind
                            $0.time = .init(date: base.addingTimeInterval(Double(offset) * 600))
                        })
                }
            }
            for tag in Self.tags where chance(0.3) { tagged[tag, default: []].append(user) }
            for segment in Self.segments where chance(0.25) { members[segment, default: []].append(user) }
        }
    }
}
