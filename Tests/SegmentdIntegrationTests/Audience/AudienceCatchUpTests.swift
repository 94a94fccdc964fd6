import Foundation
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Synchronization
import Testing

/// Catch-ups of a loaded tenant: a user the overlay already holds whole gets only
/// the events the new transactions inserted, appended after the held ones; a late
/// event, one at the same instant as the last held, and a first touch read the
/// user whole; either way the overlay equals a whole read from PostgreSQL.
@Suite("Audience engine: catch-ups append a held user's new events, and equal a whole read", .timeLimit(.minutes(5)))
struct AudienceCatchUpTests {
    static let now = RuleDifferentialTests.now

    /// What changed since `state`'s snapshot, read as the registry reads it.
    static func read(since state: TenantAudience, server: TestServer) async throws -> AudienceCatchUp {
        let result = Mutex<AudienceCatchUp?>(nil)
        try await MigrationTests.withDatabase(server.database.app) { database in
            let catchUp = try await AudienceCatchUp.read(
                tenant: server.tenant, since: state.databaseSnapshot, holding: state.overlay.facts, database: database)
            result.withLock { $0 = catchUp }
        }
        return try #require(result.withLock { $0 })
    }

    /// Every user the overlay holds has exactly the facts a whole read gives (memberships aside).
    static func expectOverlayIsWhole(_ state: TenantAudience, server: TestServer, _ moment: String) async throws {
        let whole = try await server.server.ruleStore.allFacts(tenant: server.tenant)
        #expect(!state.overlay.facts.isEmpty, "\(moment)")
        for (user, held) in state.overlay.facts {
            var read = try #require(whole[Int64(user)], "\(moment): user \(user)")
            read.segments = []
            #expect(held == read, "\(moment): user \(user) holds \(held.events.map(\.name)), a whole read \(read.events.map(\.name))")
        }
    }

    @Test("new events are appended to a held user; late, same-instant and first-touch users are read whole; profiles and erasure too")
    func appendsOrReadsWhole() async throws {
        try await TestServer.with(configure: { EngineRefreshTests.configure(&$0) }) { server in
            let registry = try #require(server.server.audiences)
            let parent = "tenants/\(server.tenant)"
            try await server.connect { connection in
                @Sendable func ingest(_ events: [Segmentd_V1_Event]) async throws {
                    _ = try await connection.ingestion.ingestEvents(
                        .with {
                            $0.parent = parent
                            $0.events = events
                        }, metadata: connection.metadata)
                }
                @Sendable func current() async throws -> TenantAudience {
                    try #require(await registry.current(for: server.tenant))
                }
                let t = Self.now
                try await ingest(["u1", "u2"].map { .make($0, "view_item", at: t.addingTimeInterval(-300), ["price": .number(5)]) })
                await registry.load(server.tenant)
                var state = try await current()
                let u1 = try #require(state.userIndex(of: "u1"))
                let u2 = try #require(state.userIndex(of: "u2"))

                // First touch: the columns hold u1, so it is read whole.
                try await ingest([.make("u1", "view_item", at: t.addingTimeInterval(-200), ["price": .number(7), "sku": .string("a\"é\\")])])
                var catchUp = try await Self.read(since: state, server: server)
                #expect(catchUp.appendedEvents.isEmpty && catchUp.users[u1]?.facts.events.count == 2)
                state = try await current()
                try await Self.expectOverlayIsWhole(state, server: server, "first touch")

                // Held: u1's new events only, after its last; u2 is touched first now (whole).
                try await ingest([
                    .make("u1", "purchase", at: t.addingTimeInterval(-100), ["amount": .number(12.5)]),
                    .make("u1", "view_item", at: t.addingTimeInterval(-90)),
                    .make("u2", "view_item", at: t.addingTimeInterval(-100)),
                ])
                catchUp = try await Self.read(since: state, server: server)
                #expect(Set(catchUp.appendedEvents.keys) == [u1])
                #expect(catchUp.appendedEvents[u1]?.map(\.name) == ["purchase", "view_item"])
                #expect(catchUp.appendedEvents[u1]?.first?.properties == ["amount": .number(12.5)])
                #expect(catchUp.users[u1]?.facts.events == [] && catchUp.users[u2]?.facts.events.count == 2)
                state = try await current()
                try await Self.expectOverlayIsWhole(state, server: server, "appended")

                // A late event, then one at the instant of the last held: u1 is read whole each time.
                try await ingest([.make("u1", "view_item", at: t.addingTimeInterval(-250))])
                catchUp = try await Self.read(since: state, server: server)
                #expect(catchUp.appendedEvents[u1] == nil && catchUp.users[u1]?.facts.events.count == 5)
                state = try await current()
                try await Self.expectOverlayIsWhole(state, server: server, "late event")
                try await ingest([.make("u1", "view_item", at: t.addingTimeInterval(-90), id: "a-tie", ["price": .number(1)])])
                catchUp = try await Self.read(since: state, server: server)
                #expect(catchUp.appendedEvents[u1] == nil && catchUp.users[u1]?.facts.events.count == 6)
                state = try await current()
                try await Self.expectOverlayIsWhole(state, server: server, "same instant")

                // Several batches between two catch-ups are appended together, in time order.
                try await ingest([.make("u1", "purchase", at: t.addingTimeInterval(-40), ["amount": .number(3)])])
                try await ingest([.make("u1", "view_item", at: t.addingTimeInterval(-50)), .make("u2", "purchase", at: t.addingTimeInterval(-10))])
                catchUp = try await Self.read(since: state, server: server)
                #expect(catchUp.appendedEvents[u1]?.map(\.name) == ["view_item", "purchase"])
                #expect(catchUp.appendedEvents[u2]?.map(\.name) == ["purchase"])
                state = try await current()
                try await Self.expectOverlayIsWhole(state, server: server, "two batches")

                // A profile change of a held user keeps its events and takes the new attributes.
                _ = try await connection.ingestion.upsertProfiles(
                    .with {
                        $0.parent = parent
                        $0.profiles = [
                            .with {
                                $0.userID = "u1"
                                $0.attributes = ["tier": .string("gold")]
                            }
                        ]
                    }, metadata: connection.metadata)
                catchUp = try await Self.read(since: state, server: server)
                #expect(catchUp.appendedEvents[u1] == [] && catchUp.users[u1]?.facts.attributes["tier"] == .string("gold"))
                state = try await current()
                #expect(state.overlay.facts[u1]?.events.count == 8)
                try await Self.expectOverlayIsWhole(state, server: server, "profile")

                // Erased: gone from the overlay, whatever it held.
                _ = try await connection.users.deleteUser(.with { $0.name = "\(parent)/users/u1" }, metadata: connection.metadata)
                catchUp = try await Self.read(since: state, server: server)
                #expect(catchUp.removed == [u1] && catchUp.appendedEvents[u1] == nil)
                state = try await current()
                #expect(state.overlay.facts[u1] == nil && state.userIndex(of: "u1") == nil && state.overlay.facts[u2] != nil)
            }
        }
    }
}
