import Foundation
import Logging
import SegmentDomain
import SegmentRules
import SegmentStore
import Testing

@testable import SegmentEngine

/// Building columns from hand-made batches, without a database: batches join
/// up, absent values stay absent, strings are told apart by bytes, per-user
/// columns have a row per index, rows of users that do not exist are skipped.
@Suite("AudienceBuilder: batches become columns")
struct AudienceBuilderTests {
    static let tenant = TenantID("acme")!

    static func builder() throws -> AudienceBuilder {
        var builder = AudienceBuilder(tenant: tenant, logger: Logger(label: "test.audience"))
        var users = AudienceRows.Users()
        users.indexes = [1, 2, 4]  // 0 and 3 are not users (a deleted user, a failed batch's hole)
        users.externalIDs = ["a", "é", "e\u{301}"]
        try builder.receive(users)
        return builder
    }

    static func events(_ users: [UInt32], _ times: [Int64], amounts: [Double?], currencies: [String?]) -> AudienceRows.Events {
        var batch = AudienceRows.Events(
            name: "purchase", fields: [.init(name: "amount", type: .number), .init(name: "currency", type: .string)])
        batch.users = users
        batch.times = times
        batch.values = [.numbers(amounts), .strings(currencies)]
        return batch
    }

    @Test("users: live indexes, external ids by bytes, capacity one past the largest index")
    func users() throws {
        let audience = try Self.builder().audience
        #expect(Array(audience.users.live) == [1, 2, 4])
        #expect(audience.users.capacity == 5)
        #expect(audience.users.index(of: "é") == 2)
        #expect(audience.users.index(of: "e\u{301}") == 4)
        #expect(audience.users.externalID(of: 3) == nil)
        #expect(audience.users.externalID(of: 4) == "e\u{301}")
    }

    @Test("events: batches append in time order, values and absences kept, orphan rows skipped, out-of-order refused")
    func events() throws {
        var builder = try Self.builder()
        try builder.receive(Self.events([1, 3, 2], [10, 20, 20], amounts: [5, 6, nil], currencies: ["EUR", "EUR", nil]))
        try builder.receive(Self.events([4, 1], [30, 40], amounts: [0, 2.5], currencies: ["é", "e\u{301}"]))
        #expect(builder.orphans == 1)
        let snapshot = AudienceSource.Snapshot(catalog: RuleCatalog(), takenAt: Date())
        let audience = builder.finish(snapshot: snapshot)
        let purchase = try #require(audience.events["purchase"])
        #expect(purchase.users == [1, 2, 4, 1])
        #expect(purchase.times == [10, 20, 30, 40])
        let amount = try #require(purchase.properties["amount"])
        #expect((0..<4).map { amount[$0] } == [RuleValue.number(5), nil, .number(0), .number(2.5)])
        #expect(Array(amount.present) == [0, 2, 3])
        let currency = try #require(purchase.properties["currency"])
        #expect((0..<4).map { currency[$0] } == [RuleValue.string("EUR"), nil, .string("é"), .string("e\u{301}")])
        #expect(currency.dictionary.count == 3)
        #expect(currency.codes[1] == StringDictionary.none)
        #expect(purchase.rows(from: 20, before: 40) == 1..<3)
        #expect(purchase.rows(from: 41) == 4..<4)
        #expect(purchase.rows(before: 10) == 0..<0)
        #expect(purchase.rows(from: 30, before: 20).isEmpty)

        var late = try Self.builder()
        try late.receive(Self.events([1], [50], amounts: [1], currencies: [nil]))
        #expect(throws: DomainError.self) { try late.receive(Self.events([1], [49], amounts: [1], currencies: [nil])) }
    }

    @Test("profiles: a row per user index, absent where no profile or attribute, lists and locations, catalog columns")
    func profiles() throws {
        var builder = try Self.builder()
        var batch = AudienceRows.Profiles(
            fields: [.init(name: "interests", type: .stringList), .init(name: "tier", type: .string), .init(name: "vip", type: .bool)])
        batch.users = [1, 4]
        batch.values = [.lists([["books", "é"], []]), .strings(["gold", nil]), .bools([nil, false])]
        batch.locations = [.init(latitude: 41.01, longitude: 28.97, time: 99), nil]
        try builder.receive(batch)
        let catalog = RuleCatalog(attributes: ["tier": .string, "interests": .stringList, "vip": .bool, "country": .string])
        let audience = builder.finish(snapshot: AudienceSource.Snapshot(catalog: catalog, takenAt: Date()))
        let profiles = audience.profiles
        #expect(Array(profiles.profiled) == [1, 4])
        #expect(profiles.value("interests", of: 1) == .list(["books", "é"]))
        #expect(profiles.value("interests", of: 4) == .list([]))
        #expect(profiles.value("interests", of: 2) == nil)
        #expect(profiles.value("tier", of: 1) == .string("gold"))
        #expect(profiles.value("tier", of: 4) == nil)
        #expect(profiles.value("vip", of: 4) == .bool(false))
        #expect(profiles.value("vip", of: 1) == nil)
        #expect(profiles.attributes["country"]?.count == 5)
        #expect(profiles.attributes["country"]?.present.isEmpty == true)
        #expect(profiles.attributes.values.allSatisfy { $0.count == 5 })
        #expect(profiles.locations[1] == .init(latitude: 41.01, longitude: 28.97, time: 99))
        #expect(profiles.locations[4] == nil)
        #expect(Array(profiles.locations.known) == [1])
        #expect(profiles.locations.latitudes.count == 5)
    }

    @Test("tags and responses: bitmaps per tag, columns per campaign and kind by campaign bytes")
    func tagsAndResponses() throws {
        var builder = try Self.builder()
        var vip = AudienceRows.Tags(tag: "vip")
        vip.users = [1, 3, 4]
        try builder.receive(vip)
        var clicked = AudienceRows.Responses(campaign: "é", kind: .clicked)
        clicked.users = [2, 4]
        clicked.times = [5, 7]
        try builder.receive(clicked)
        var other = AudienceRows.Responses(campaign: "e\u{301}", kind: .clicked)
        other.users = [1]
        other.times = [6]
        try builder.receive(other)
        #expect(builder.orphans == 1)
        let audience = builder.finish(snapshot: AudienceSource.Snapshot(catalog: RuleCatalog(), takenAt: Date()))
        #expect(Array(audience.tags["vip"]) == [1, 4])
        #expect(audience.tags["beta"].isEmpty)
        #expect(audience.responses["é", .clicked].users == [2, 4])
        #expect(audience.responses["é", .clicked].rows(from: 6) == 1..<2)
        #expect(audience.responses["e\u{301}", .clicked].users == [1])
        #expect(audience.responses["é", .opened].count == 0)
        #expect(audience.responses.count == 3)
        #expect(audience.bytesHeld > 0)
    }
}
