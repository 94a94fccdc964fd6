import Foundation
import SegmentdAPI

/// A deterministic synthetic data set with realistic shapes, for the quickstart,
/// tests and benchmarks: skewed activity, an app_open → view_item → add_to_cart
/// → purchase funnel with amounts, campaign sends/opens/clicks, tiers,
/// languages, cities with coordinates and time zones, and tags.
///
/// The same seed, size and anchor day always give the same records (message ids
/// included), so sending a data set twice changes nothing.
public struct DemoDataGenerator: Sendable {
    /// How much data.
    public struct Size: Sendable {
        public var users: Int
        public var days: Int
        /// Distinct event names: the 4 of the funnel, plus up to 16 others
        /// (search, page_view, share, …) drawn within sessions.
        public var eventTypes: Int
        /// Sessions per user grow with `days`; this scales them (with 20 event types,
        /// 0.15 at 90 days gives about as many events per user as 1.0 at 25 with 4).
        public var activity: Double
        public init(users: Int, days: Int, eventTypes: Int = 4, activity: Double = 1) {
            self.users = users
            self.days = days
            self.eventTypes = min(max(eventTypes, 4), 4 + DemoDataGenerator.otherEvents.count)
            self.activity = activity
        }

        /// The benchmarks' quick size: 100,000 users, 25 days, the 4 funnel events (≈ 2M events).
        public static let quick = Size(users: 100_000, days: 25)
        /// The benchmarks' standard size: 1,000,000 users, 90 days, 20 event types (≈ 20M events).
        public static let standard = Size(users: 1_000_000, days: 90, eventTypes: 20, activity: 0.15)
    }

    /// Event names beyond the funnel, most common first, with what they carry.
    public static let otherEvents: [(name: String, property: String?)] = [
        ("page_view", "category"), ("search", "query"), ("login", nil), ("push_open", nil), ("wishlist_add", "category"),
        ("share", "category"), ("email_open", nil), ("coupon_view", nil), ("review", "rating"), ("video_play", nil),
        ("logout", nil), ("coupon_redeem", nil), ("support_chat", nil), ("profile_update", nil), ("rate_app", "rating"),
        ("notification_settings", nil),
    ]

    public let size: Size
    public let seed: UInt64
    /// The end of the data set (events fall in the `days` before it).
    public let anchor: Date

    public init(size: Size, seed: UInt64 = 1, anchor: Date) {
        self.size = size
        self.seed = seed
        self.anchor = anchor
    }

    /// Midnight UTC today: the default anchor, stable for a day.
    public static func today() -> Date {
        Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 86_400).rounded(.down) * 86_400)
    }

    struct City {
        let name: String, country: String, zone: String, latitude: Double, longitude: Double, language: String
    }

    static let cities = [
        City(name: "Istanbul", country: "TR", zone: "Europe/Istanbul", latitude: 41.01, longitude: 28.97, language: "tr"),
        City(name: "Ankara", country: "TR", zone: "Europe/Istanbul", latitude: 39.93, longitude: 32.86, language: "tr"),
        City(name: "Berlin", country: "DE", zone: "Europe/Berlin", latitude: 52.52, longitude: 13.40, language: "de"),
        City(name: "London", country: "GB", zone: "Europe/London", latitude: 51.51, longitude: -0.13, language: "en"),
        City(name: "New York", country: "US", zone: "America/New_York", latitude: 40.71, longitude: -74.01, language: "en"),
        City(name: "Madrid", country: "ES", zone: "Europe/Madrid", latitude: 40.42, longitude: -3.70, language: "es"),
    ]
    static let tiers = ["bronze", "silver", "gold", "platinum"]
    static let categories = ["shoes", "bags", "electronics", "books", "home"]
    /// Tags and the share of users who get them.
    public static let tags: [(id: String, share: Double)] = [("vip", 0.05), ("beta", 0.1), ("newsletter", 0.4)]

    /// The external id of user `index`.
    public static func userID(_ index: Int) -> String { "user-\(index)" }

    /// Every profile.
    public func profiles() -> [Segmentd_V1_Profile] {
        (0..<size.users).map(profile)
    }

    /// The profile of user `index`.
    public func profile(_ index: Int) -> Segmentd_V1_Profile {
        var random = SplitMix64(seed: seed &* 1_000_003 &+ UInt64(index))
        let city = Self.cities[Int(random.next() % UInt64(Self.cities.count))]
        let tierRoll = random.unit()
        let tier = tierRoll < 0.6 ? 0 : tierRoll < 0.85 ? 1 : tierRoll < 0.97 ? 2 : 3
        let signedUp = anchor.addingTimeInterval(-Double(random.next() % UInt64(max(size.days, 1) * 3 * 86_400)))
        return .with {
            $0.userID = Self.userID(index)
            $0.attributes = [
                "tier": .with { $0.stringValue = Self.tiers[tier] },
                "language": .with { $0.stringValue = city.language },
                "city": .with { $0.stringValue = city.name },
                "country": .with { $0.stringValue = city.country },
                "time_zone": .with { $0.stringValue = city.zone },
                "signed_up_at": .with { $0.timestampValue = .init(date: signedUp) },
                "age": .with { $0.numberValue = Double(18 + random.next() % 50) },
                "interests": .with { $0.stringListValue = .with { $0.values = [Self.categories[Int(random.next() % 5)]] } },
            ]
            $0.lastLocation = .with {
                $0.latitude = city.latitude + (random.unit() - 0.5) * 0.2
                $0.longitude = city.longitude + (random.unit() - 0.5) * 0.2
            }
        }
    }

    /// The events of user `index`, oldest first: skewed activity (a few heavy
    /// users, many light ones) through the shopping funnel.
    public func events(ofUser index: Int) -> [Segmentd_V1_Event] {
        var random = SplitMix64(seed: seed &* 7_000_003 &+ UInt64(index))
        // Activity follows a heavy-tailed draw: sessions per user over the period.
        let activity = Int(pow(random.unit(), 3) * Double(size.days) * 1.5 * size.activity) + (random.unit() < 0.3 ? 0 : 1)
        let others = size.eventTypes - 4
        let user = Self.userID(index)
        var events: [Segmentd_V1_Event] = []
        for session in 0..<activity {
            let start = anchor.addingTimeInterval(-random.unit() * Double(size.days) * 86_400)
            var time = start
            func add(_ name: String, _ properties: [String: Segmentd_V1_Value] = [:]) {
                time = time.addingTimeInterval(5 + random.unit() * 120)
                guard time < anchor else { return }
                let number = events.count
                events.append(
                    .with {
                        $0.userID = user
                        $0.name = name
                        $0.time = .init(date: time)
                        $0.messageID = "demo-\(seed)-\(index)-\(session)-\(number)"
                        $0.properties = properties
                    })
            }
            add("app_open", ["platform": .with { $0.stringValue = random.unit() < 0.6 ? "ios" : "android" }])
            let category = Self.categories[Int(random.next() % 5)]
            // Other events (none at the default 4 types, so the funnel's draws stay as they were):
            // a few per session, skewed towards the first names.
            if others > 0 {
                for _ in 0..<Int(random.next() % 4) {
                    let other = Self.otherEvents[Int(pow(random.unit(), 2) * Double(others))]
                    var properties: [String: Segmentd_V1_Value] = [:]
                    switch other.property {
                    case "category": properties["category"] = .with { $0.stringValue = category }
                    case "query": properties["query"] = .with { $0.stringValue = Self.categories[Int(random.next() % 5)] }
                    case "rating": properties["rating"] = .with { $0.numberValue = Double(1 + random.next() % 5) }
                    default: break
                    }
                    add(other.name, properties)
                }
            }
            guard random.unit() < 0.7 else { continue }
            add("view_item", ["category": .with { $0.stringValue = category }])
            guard random.unit() < 0.35 else { continue }
            let price = Double(Int(5 + pow(random.unit(), 2) * 495) * 100) / 100
            add("add_to_cart", ["category": .with { $0.stringValue = category }, "price": .with { $0.numberValue = price }])
            guard random.unit() < 0.45 else { continue }
            add(
                "purchase",
                [
                    "amount": .with { $0.numberValue = price * Double(1 + random.next() % 3) },
                    "currency": .with { $0.stringValue = random.unit() < 0.7 ? "EUR" : "TRY" },
                    "category": .with { $0.stringValue = category },
                ])
        }
        return events.sorted { $0.time.seconds < $1.time.seconds }
    }

    /// Campaigns sent every few days; a share of users receives, opens and clicks.
    public func responses(ofUser index: Int) -> [Segmentd_V1_CampaignResponse] {
        var random = SplitMix64(seed: seed &* 13_000_003 &+ UInt64(index))
        var responses: [Segmentd_V1_CampaignResponse] = []
        let campaigns = max(size.days / 7, 1)
        for campaign in 0..<campaigns {
            guard random.unit() < 0.6 else { continue }
            let sent = anchor.addingTimeInterval(-Double(size.days) * 86_400 + Double(campaign) * 7 * 86_400 + 3600)
            func add(_ kind: Segmentd_V1_ResponseKind, after seconds: Double) {
                responses.append(
                    .with {
                        $0.userID = Self.userID(index)
                        $0.campaignID = "campaign_\(campaign + 1)"
                        $0.kind = kind
                        $0.time = .init(date: sent.addingTimeInterval(seconds))
                    })
            }
            add(.received, after: 0)
            guard random.unit() < 0.3 else { continue }
            add(.opened, after: 600 + random.unit() * 86_400)
            guard random.unit() < 0.25 else { continue }
            add(.clicked, after: 90_000 + random.unit() * 3600)
        }
        return responses
    }

    /// The tags user `index` has.
    public func tags(ofUser index: Int) -> [String] {
        var random = SplitMix64(seed: seed &* 17_000_003 &+ UInt64(index))
        return Self.tags.filter { _ in true }.compactMap { tag in random.unit() < tag.share ? tag.id : nil }
    }
}

/// SplitMix64: a tiny, fast, deterministic generator (seeded data and tests).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A double in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
