import Foundation
import SegmentdAPI
import SegmentdClient
import Testing

@Suite("Demo data: the benchmarks' quick and standard sizes")
struct DemoDataGeneratorTests {
    static let anchor = Date(timeIntervalSince1970: 20_700 * 86_400)

    /// Events per user and the distinct event names over the first `sample` users.
    static func shape(_ size: DemoDataGenerator.Size, sample: Int = 5_000) -> (perUser: Double, names: Set<String>, latest: Date) {
        let generator = DemoDataGenerator(size: size, anchor: anchor)
        var total = 0
        var names = Set<String>()
        var latest = Date.distantPast
        for user in 0..<sample {
            let events = generator.events(ofUser: user)
            total += events.count
            for event in events {
                names.insert(event.name)
                latest = max(latest, event.time.date)
            }
        }
        return (Double(total) / Double(sample), names, latest)
    }

    @Test("quick: about 20 events a user, the funnel's 4 names; standard: about 20 events a user over 90 days, 20 names")
    func sizes() {
        let quick = Self.shape(.quick)
        #expect((15...25).contains(quick.perUser), "\(quick.perUser) events a user")
        #expect(quick.names == ["app_open", "view_item", "add_to_cart", "purchase"])
        let standard = Self.shape(.standard)
        #expect((15...25).contains(standard.perUser), "\(standard.perUser) events a user")
        #expect(standard.names.count == 20)
        #expect(standard.names.isSuperset(of: quick.names))
        #expect(standard.latest < Self.anchor)
        #expect(DemoDataGenerator.Size.standard.users == 1_000_000 && DemoDataGenerator.Size.standard.days == 90)
    }

    @Test("the same seed, size and anchor give the same records, message ids included")
    func deterministic() {
        let size = DemoDataGenerator.Size(users: 100, days: 90, eventTypes: 20, activity: 0.15)
        let first = DemoDataGenerator(size: size, anchor: Self.anchor)
        let second = DemoDataGenerator(size: size, anchor: Self.anchor)
        for user in [0, 7, 99] {
            #expect(first.events(ofUser: user) == second.events(ofUser: user))
            #expect(first.profile(user) == second.profile(user))
        }
        let ids = (0..<100).flatMap { first.events(ofUser: $0).map(\.messageID) }
        #expect(Set(ids).count == ids.count)
    }
}
