import Foundation
import Logging
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Synchronization
import Testing

/// Loading a tenant's audience state from PostgreSQL: the columns hold exactly
/// what was ingested through the API (and what the single-user evaluator's
/// facts hold), a deleted user is gone, and another tenant's rows never appear.
@Suite("Audience engine: loading a tenant's state from PostgreSQL", .timeLimit(.minutes(5)))
struct AudienceLoadTests {
    static let logger = Logger(label: "test.audience")

    /// Loads `tenant` with a pool of its own, in batches of `batchSize` rows (small, so batches join up).
    static func load(
        _ server: TestServer, tenant: TenantID, batchSize: Int = 2, eventScan: AudienceSource.EventScan = .automatic
    ) async throws -> AudienceLoader.Loaded {
        let result = Mutex<AudienceLoader.Loaded?>(nil)
        try await MigrationTests.withDatabase(server.database.app) { database in
            let source = AudienceSource(database: database, batchSize: batchSize, eventScan: eventScan)
            let loaded = try await AudienceLoader(source: source, logger: logger).load(tenant)
            result.withLock { $0 = loaded }
        }
        return try #require(result.withLock { $0 })
    }

    /// Microseconds since 1970 of a whole-second or millisecond date (exact).
    static func micros(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }

    @Test(
        "a small tenant: users, events per type in time order, typed properties, profiles, tags, responses, last locations; a deleted user is absent")
    func smallTenant() async throws {
        let base = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 86_400).rounded(.down) * 86_400 - 10 * 86_400)
        let t = Times(base: base)
        let signedUp = Date(timeIntervalSince1970: 1_700_000_000.25)
        try await TestServer.with { server in
            try await server.connect { connection in
                let parent = "tenants/acme"
                _ = try await connection.ingestion.upsertProfiles(
                    .with {
                        $0.parent = parent
                        $0.profiles = [
                            .with {
                                $0.userID = "ada"
                                $0.attributes = [
                                    "tier": .string("gold"), "age": .number(36), "vip": .bool(true),
                                    "signed_up_at": .with { $0.timestampValue = .init(date: signedUp) },
                                    "interests": .with { $0.stringListValue = .with { $0.values = ["books", "é"] } },
                                    "country": .string("TR"), "city": .string("Istanbul"), "time_zone": .string("Europe/Istanbul"),
                                    "language": .string("tr"),
                                ]
                            },
                            .with {
                                $0.userID = "bob"
                                $0.attributes = ["age": .number(41.5), "nickname": .string("é")]
                            },
                            .with {
                                $0.userID = "cem"
                                $0.attributes = ["nickname": .string("e\u{301}")]
                            },
                            .with {
                                $0.userID = "gone"
                                $0.attributes = ["tier": .string("silver")]
                            },
                        ]
                    }, metadata: connection.metadata)
                // Sent out of time order: the engine's columns come back sorted.
                let purchase = { (user: String, time: Date, properties: [String: Segmentd_V1_Value]) in
                    Segmentd_V1_Event.make(user, "purchase", at: time, properties)
                }
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = parent
                        $0.events = [
                            purchase("bob", t.at(4), ["amount": .number(0), "currency": .string("é"), "gift": .bool(true)]),
                            purchase("ada", t.at(1), ["amount": .number(20.5), "currency": .string("USD")]),
                            purchase("gone", t.at(3), ["amount": .number(7), "currency": .string("EUR")]),
                            purchase("ada", t.at(0), ["amount": .number(10), "currency": .string("EUR"), "gift": .bool(false)]),
                            purchase("bob", t.at(2), ["amount": .number(5)]),
                            .make("cem", "app_open", at: t.at(5)),
                            .make("ada", "app_open", at: t.at(2)),
                            .make("cem", "app_open", at: t.at(0, 3600)),
                        ]
                    }, metadata: connection.metadata)
                for tag in ["vip", "beta"] {
                    _ = try await connection.tags.createTag(
                        .with {
                            $0.parent = parent
                            $0.tagID = tag
                        }, metadata: connection.metadata)
                }
                for (tag, users) in [("vip", ["ada", "gone"]), ("beta", ["bob"])] {
                    _ = try await connection.tags.assignTags(
                        .with {
                            $0.parent = parent
                            $0.tags = [tag]
                            $0.userIds = users
                        }, metadata: connection.metadata)
                }
                let response = { (user: String, kind: Segmentd_V1_ResponseKind, time: Date) in
                    Segmentd_V1_CampaignResponse.with {
                        $0.userID = user
                        $0.campaignID = "spring"
                        $0.kind = kind
                        $0.time = .init(date: time)
                    }
                }
                _ = try await connection.ingestion.recordCampaignResponses(
                    .with {
                        $0.parent = parent
                        $0.responses = [
                            response("bob", .received, t.at(2)), response("ada", .clicked, t.at(1, 60)), response("ada", .received, t.at(1)),
                            response("gone", .received, t.at(2)),
                        ]
                    }, metadata: connection.metadata)
                let location = { (user: String, latitude: Double, longitude: Double, time: Date) in
                    Segmentd_V1_LocationUpdate.with {
                        $0.userID = user
                        $0.point = .with {
                            $0.latitude = latitude
                            $0.longitude = longitude
                        }
                        $0.time = .init(date: time)
                    }
                }
                _ = try await connection.ingestion.recordLocations(
                    .with {
                        $0.parent = parent
                        $0.locations = [
                            location("ada", 41.01, 28.97, t.at(3)), location("ada", 40.0, 29.0, t.at(1)), location("gone", 1, 2, t.at(1)),
                        ]
                    }, metadata: connection.metadata)

                // Another tenant with the same names: none of it may reach acme's state.
                let other = try await server.connect(apiKey: server.platformKey) { platform in
                    try await platform.tenants.createTenant(.with { $0.tenantID = "other" }, metadata: platform.metadata)
                }
                try await SegmentdConnection.with(server.settings(apiKey: other.ownerKey.secret)) { otherConnection in
                    _ = try await otherConnection.ingestion.upsertProfiles(
                        .with {
                            $0.parent = "tenants/other"
                            $0.profiles = [
                                .with {
                                    $0.userID = "ada"
                                    $0.attributes = ["tier": .string("secret"), "secret_attr": .number(1)]
                                }
                            ]
                        }, metadata: otherConnection.metadata)
                    _ = try await otherConnection.ingestion.ingestEvents(
                        .with {
                            $0.parent = "tenants/other"
                            $0.events = [
                                .make("ada", "purchase", at: t.at(1), ["amount": .number(999)]), .make("zed", "secret_event", at: t.at(2)),
                            ]
                        }, metadata: otherConnection.metadata)
                    _ = try await otherConnection.tags.createTag(
                        .with {
                            $0.parent = "tenants/other"
                            $0.tagID = "vip"
                        }, metadata: otherConnection.metadata)
                    _ = try await otherConnection.tags.assignTags(
                        .with {
                            $0.parent = "tenants/other"
                            $0.tags = ["vip"]
                            $0.userIds = ["ada", "zed"]
                        }, metadata: otherConnection.metadata)
                    _ = try await otherConnection.ingestion.recordCampaignResponses(
                        .with {
                            $0.parent = "tenants/other"
                            $0.responses = [
                                .with {
                                    $0.userID = "ada"
                                    $0.campaignID = "spring"
                                    $0.kind = .clicked
                                    $0.time = .init(date: t.at(1))
                                }
                            ]
                        }, metadata: otherConnection.metadata)
                }

                let goneIndex = try #require(
                    try await server.database.scalar("SELECT user_index FROM users WHERE tenant_id = 'acme' AND external_id = 'gone'", as: Int64.self)
                        .first)
                _ = try await connection.users.deleteUser(.with { $0.name = "tenants/acme/users/gone" }, metadata: connection.metadata)

                let loaded = try await Self.load(server, tenant: server.tenant)
                let audience = loaded.audience
                #expect(loaded.orphans == 0)
                #expect(loaded.rows["users"] == 3)
                #expect(loaded.rows["events"] == 7)

                // Users: three live, the deleted one absent everywhere.
                let users = audience.users
                #expect(users.count == 3)
                #expect(users.index(of: "gone") == nil)
                #expect(!users.live.contains(UInt32(goneIndex)))
                let ada = try #require(users.index(of: "ada"))
                let bob = try #require(users.index(of: "bob"))
                let cem = try #require(users.index(of: "cem"))
                #expect(users.live == MemberBitmap([ada, bob, cem]))
                #expect(users.externalID(of: bob) == "bob")

                // Events: per type, in time order, properties typed, absent where not sent.
                #expect(Set(audience.events.keys) == ["purchase", "app_open"])
                let purchases = try #require(audience.events["purchase"])
                #expect(purchases.count == 4)
                #expect(purchases.users == [ada, ada, bob, bob])
                #expect(purchases.times == [t.at(0), t.at(1), t.at(2), t.at(4)].map(Self.micros))
                let amount = try #require(purchases.properties["amount"])
                #expect(amount.type == .number)
                #expect((0..<4).map { amount[$0] } == [RuleValue.number(10), .number(20.5), .number(5), .number(0)])
                let currency = try #require(purchases.properties["currency"])
                #expect((0..<4).map { currency[$0] } == [RuleValue.string("EUR"), .string("USD"), nil, .string("é")])
                let gift = try #require(purchases.properties["gift"])
                #expect((0..<4).map { gift[$0] } == [RuleValue.bool(false), nil, nil, .bool(true)])
                #expect(purchases.rows(from: Self.micros(t.at(1)), before: Self.micros(t.at(4))) == 1..<3)
                let opens = try #require(audience.events["app_open"])
                #expect(opens.users == [cem, ada, cem])
                #expect(opens.times == [t.at(0, 3600), t.at(2), t.at(5)].map(Self.micros))
                #expect(opens.properties.isEmpty)

                // Profiles: a row per user index, each attribute typed; the deleted user's profile gone.
                let profiles = audience.profiles
                #expect(profiles.profiled == MemberBitmap([ada, bob, cem]))
                #expect(profiles.value("tier", of: ada) == .string("gold"))
                #expect(profiles.value("tier", of: UInt32(goneIndex)) == nil)
                #expect(profiles.attributes["tier"]?.dictionary.strings == ["gold"])
                #expect(profiles.value("age", of: ada) == .number(36))
                #expect(profiles.value("age", of: bob) == .number(41.5))
                #expect(profiles.value("age", of: cem) == nil)
                #expect(profiles.value("vip", of: ada) == .bool(true))
                #expect(profiles.attributes["signed_up_at"]?.times[Int(ada)] == 1_700_000_000_250_000)
                #expect(profiles.value("interests", of: ada) == .list(["books", "é"]))
                for (name, value) in [("country", "TR"), ("city", "Istanbul"), ("time_zone", "Europe/Istanbul"), ("language", "tr")] {
                    #expect(profiles.attributes[name]?.type == .string)
                    #expect(profiles.value(name, of: ada) == .string(value))
                    #expect(profiles.value(name, of: bob) == nil)
                }
                #expect(profiles.value("nickname", of: bob) == .string("é"))
                #expect(profiles.value("nickname", of: cem) == .string("e\u{301}"))
                #expect(profiles.attributes["nickname"]?.dictionary.count == 2, "strings are told apart by their bytes")
                let nickname = try #require(profiles.attributes["nickname"])
                #expect(Array(nickname.dictionary[nickname.codes[Int(cem)]].utf8) == Array("e\u{301}".utf8))
                #expect(profiles.attributes.values.allSatisfy { $0.count == users.capacity })
                #expect(profiles.attributes["secret_attr"] == nil)
                let adaLocation = try #require(profiles.locations[ada])
                #expect(adaLocation.latitude == 41.01 && adaLocation.longitude == 28.97)
                #expect(adaLocation.time == Self.micros(t.at(3)))
                #expect(profiles.locations[bob] == nil)
                #expect(profiles.locations.known == MemberBitmap([ada]))

                // Tags and responses.
                #expect(audience.tags.users.count == 2)
                #expect(audience.tags["vip"] == MemberBitmap([ada]))
                #expect(audience.tags["beta"] == MemberBitmap([bob]))
                let received = audience.responses["spring", .received]
                #expect(received.users == [ada, bob])
                #expect(received.times == [t.at(1), t.at(2)].map(Self.micros))
                #expect(audience.responses["spring", .clicked].users == [ada])
                #expect(audience.responses["spring", .clicked].times == [Self.micros(t.at(1, 60))])
                #expect(audience.responses.count == 3)

                // The catalog read in the same snapshot.
                #expect(audience.catalog.events == ["purchase", "app_open"])
                #expect(audience.catalog.properties["purchase"] == ["amount": .number, "currency": .string, "gift": .bool])

                // What the representation costs on this data.
                let bytes = audience.bytesHeld
                #expect(bytes > 0)
                print(
                    "audience bytes: \(bytes) total; events \(purchases.bytesHeld + opens.bytesHeld) for \(audience.eventCount) events;"
                        + " users \(users.bytesHeld) for \(users.count); profiles \(profiles.bytesHeld)")

                // The other tenant sees only its own rows.
                let otherAudience = try await Self.load(server, tenant: TenantID("other")!).audience
                #expect(otherAudience.users.count == 2)
                #expect(Set(otherAudience.events.keys) == ["purchase", "secret_event"])
                #expect(otherAudience.events["purchase"]?.properties["amount"]?[0] == .number(999))
                let otherAda = try #require(otherAudience.users.index(of: "ada"))
                #expect(otherAudience.profiles.value("tier", of: otherAda) == .string("secret"))
                #expect(otherAudience.tags["vip"].count == 2)
                #expect(otherAudience.tags["beta"].isEmpty)
                #expect(otherAudience.responses.count == 1)
                #expect(otherAudience.profiles.locations.known.isEmpty)
            }
        }
    }

    @Test(
        "on the seeded rule data, the loaded state holds exactly the single-user evaluator's facts, user by user, events and responses in time order, however they are read",
        arguments: AudienceSource.EventScan.allCases)
    func matchesFacts(eventScan: AudienceSource.EventScan) async throws {
        let now = RuleDifferentialTests.now
        let data = RuleTestData(seed: 20_261_125, users: 150, now: now)
        try await TestServer.with(configure: { $0.clock = { now } }) { server in
            try await RuleDifferentialTests.load(data, into: server)
            let facts = try await server.server.ruleStore.allFacts(tenant: server.tenant)
            let loaded = try await Self.load(server, tenant: server.tenant, batchSize: 7, eventScan: eventScan)
            let audience = loaded.audience
            for columns in audience.events.values {
                #expect(zip(columns.times, columns.times.dropFirst()).allSatisfy { $0 <= $1 }, "\(columns.name) in time order")
            }
            for (key, columns) in audience.responses.entries {
                #expect(zip(columns.times, columns.times.dropFirst()).allSatisfy { $0 <= $1 }, "responses \(key) in time order")
            }
            #expect(audience.users.count == facts.count)
            #expect(audience.eventCount == data.events.count)
            let rebuilt = FactsView(audience)
            var compared = 0
            for (index, userFacts) in facts {
                let user = UInt32(index)
                #expect(audience.users.live.contains(user))
                #expect(rebuilt.attributes(user) == FactsView.normalized(userFacts.attributes), "attributes of user \(index)")
                #expect(rebuilt.events(user) == FactsView.normalized(userFacts.events), "events of user \(index)")
                #expect(rebuilt.responses(user) == FactsView.normalized(userFacts.responses), "responses of user \(index)")
                #expect(rebuilt.tags(user) == userFacts.tags, "tags of user \(index)")
                #expect(rebuilt.location(user) == userFacts.lastLocation.map(FactsView.normalized), "location of user \(index)")
                compared += 1
            }
            #expect(compared == 150)
            let bytes = audience.bytesHeld
            print(
                "seeded audience: \(audience.users.count) users, \(audience.eventCount) events, \(bytes) bytes;"
                    + " events \(audience.events.values.reduce(0) { $0 + $1.bytesHeld }) bytes"
                    + " (\(audience.events.values.reduce(0) { $0 + $1.bytesHeld } / max(1, audience.eventCount)) per event),"
                    + " users+profiles+tags+responses \(bytes - audience.events.values.reduce(0) { $0 + $1.bytesHeld }) bytes"
                    + " (\((bytes - audience.events.values.reduce(0) { $0 + $1.bytesHeld }) / max(1, audience.users.count)) per user)")
        }
    }
}

/// Times relative to a midnight some days back.
struct Times: Sendable {
    let base: Date
    func at(_ days: Double, _ seconds: Double = 0) -> Date { base.addingTimeInterval(days * 86_400 + seconds) }
}

/// The loaded columns read back per user, in the single-user evaluator's terms,
/// normalized so the two compare exactly: strings as bytes (Swift's `==` would
/// call "é" and "e\u{301}" equal), times as microseconds (a `Date` parsed from
/// text and one built from microseconds may differ in their last bits), and
/// events and responses as multisets.
struct FactsView {
    let audience: TenantAudience

    init(_ audience: TenantAudience) {
        self.audience = audience
    }

    enum Value: Hashable {
        case string([UInt8])
        case number(Double)
        case bool(Bool)
        case time(Int64)
        case list([[UInt8]])
    }

    static func normalized(_ value: RuleValue) -> Value {
        switch value {
        case .string(let text): .string(Array(text.utf8))
        case .number(let number): .number(number)
        case .bool(let flag): .bool(flag)
        case .time(let date): .time(AudienceLoadTests.micros(date))
        case .list(let items): .list(items.map { Array($0.utf8) })
        }
    }

    static func normalized(_ values: [String: RuleValue]) -> [String: Value] { values.mapValues(normalized) }

    struct Event: Hashable {
        var name: String
        var time: Int64
        var properties: [String: Value]
    }

    static func normalized(_ events: [UserEvent]) -> [Event: Int] {
        counted(events.map { Event(name: $0.name, time: AudienceLoadTests.micros($0.time), properties: normalized($0.properties)) })
    }

    struct Response: Hashable {
        var campaign: [UInt8]
        var kind: ResponseKind
        var time: Int64
    }

    static func normalized(_ responses: [UserResponse]) -> [Response: Int] {
        counted(responses.map { Response(campaign: Array($0.campaign.utf8), kind: $0.kind, time: AudienceLoadTests.micros($0.time)) })
    }

    static func normalized(_ location: LastLocation) -> [Double] {
        [location.latitude, location.longitude, Double(AudienceLoadTests.micros(location.time))]
    }

    static func counted<T: Hashable>(_ items: [T]) -> [T: Int] {
        items.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }

    /// Row `row` of a column as a normalized value (timestamps straight from the microseconds).
    static func value(_ column: PropertyColumn, _ row: Int) -> Value? {
        guard let value = column[row] else { return nil }
        return column.type == .timestamp ? .time(column.times[row]) : normalized(value)
    }

    func attributes(_ user: UInt32) -> [String: Value] {
        audience.profiles.attributes.compactMapValues { Self.value($0, Int(user)) }
    }

    func events(_ user: UInt32) -> [Event: Int] {
        var events: [Event] = []
        for (name, columns) in audience.events {
            for row in 0..<columns.count where columns.users[row] == user {
                events.append(Event(name: name, time: columns.times[row], properties: columns.properties.compactMapValues { Self.value($0, row) }))
            }
        }
        return Self.counted(events)
    }

    func responses(_ user: UInt32) -> [Response: Int] {
        var responses: [Response] = []
        for (key, columns) in audience.responses.entries {
            for row in 0..<columns.count where columns.users[row] == user {
                responses.append(Response(campaign: Array(key.campaign.string.utf8), kind: key.kind, time: columns.times[row]))
            }
        }
        return Self.counted(responses)
    }

    func tags(_ user: UInt32) -> Set<String> {
        Set(audience.tags.users.filter { $0.value.contains(user) }.keys)
    }

    func location(_ user: UInt32) -> [Double]? {
        audience.profiles.locations[user].map { [$0.latitude, $0.longitude, Double($0.time)] }
    }
}
