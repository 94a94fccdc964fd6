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
    static func read(since state: TenantAudience, server: TestServer, applied: Set<TransactionUser> = []) async throws -> AudienceCatchUp {
        let result = Mutex<AudienceCatchUp?>(nil)
        try await MigrationTests.withDatabase(server.database.app) { database in
            let catchUp = try await AudienceCatchUp.read(
                tenant: server.tenant, since: state.databaseSnapshot, holding: state.overlay.facts, applied: applied, database: database)
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

    /// A registry of its own over the app database (no NOTIFY listener): catch-ups run only when asked.
    static func withOwnRegistry(
        _ server: TestServer, _ body: @Sendable (AudienceRegistry, IngestStore) async throws -> Void
    ) async throws {
        try await MigrationTests.withDatabase(server.database.app) { database in
            let registry = AudienceRegistry(
                loader: AudienceLoader(source: AudienceSource(database: database), logger: database.logger),
                settings: AudienceRegistry.Settings(memoryBudget: 1 << 30), logger: database.logger)
            try await body(registry, IngestStore(database: database))
            await registry.shutdown()
        }
    }

    static func ingest(_ store: IngestStore, _ server: TestServer, _ events: [EventInput]) async throws -> CommittedEvents? {
        let audit = AuditContext(tenant: server.tenant, actor: AuditActor(name: "test"), action: "IngestEvents", resultCode: { _ in "INTERNAL" })
        return try await store.ingestEvents(events, tenant: server.tenant, audit: audit).committed
    }

    @Test("a committed batch is appended at once to the held users it follows; the catch-up skips it and the overlay equals a whole read")
    func committedBatchesAppendAtOnce() async throws {
        try await TestServer.with(configure: { EngineRefreshTests.configure(&$0) }) { server in
            let t = Self.now
            try await Self.withOwnRegistry(server) { registry, store in
                @Sendable func event(_ user: String, _ name: String, _ seconds: Double, _ properties: [String: RuleValue] = [:]) -> EventInput {
                    EventInput(userID: user, name: name, time: t.addingTimeInterval(seconds), properties: properties, messageID: nil)
                }
                _ = try await Self.ingest(store, server, [event("u1", "view_item", -300), event("u2", "view_item", -300)])
                await registry.load(server.tenant)
                var state = try #require(await registry.current(for: server.tenant))
                let u1 = try #require(state.userIndex(of: "u1"))
                let u2 = try #require(state.userIndex(of: "u2"))

                // u1 is in the columns, not held whole: nothing to append to until a catch-up reads it.
                var committed = try #require(try await Self.ingest(store, server, [event("u1", "view_item", -200, ["price": .number(7)])]))
                #expect(committed.events[u1]?.map(\.name) == ["view_item"])
                await registry.committed(committed)
                #expect(await registry.latest(for: server.tenant)?.audience.overlay.facts[u1] == nil)
                state = try #require(await registry.current(for: server.tenant))
                #expect(state.overlay.facts[u1]?.events.count == 2)

                // Held: appended before any catch-up, with the snapshot unchanged; u2 (not held) waits.
                let serial = state.overlay.serial
                committed = try #require(
                    try await Self.ingest(
                        store, server,
                        [
                            event("u1", "purchase", -100, ["amount": .number(12.5), "sku": .string("a\"é\\")]),
                            event("u1", "view_item", -90), event("u2", "purchase", -90), event("u3", "purchase", -80, ["amount": .number(4)]),
                        ]))
                // u3 is new: the batch is all there is of them, so they are held whole at once.
                let u3 = try #require(committed.newUsers.first { $0.value == "u3" }?.key)
                #expect(committed.newUsers.count == 1)
                await registry.committed(committed)
                var latest = try #require(await registry.latest(for: server.tenant)).audience
                #expect(latest.databaseSnapshot == state.databaseSnapshot)
                #expect(latest.overlay.facts[u1]?.events.map(\.name) == ["view_item", "view_item", "purchase", "view_item"])
                #expect(latest.overlay.facts[u2] == nil)
                #expect(latest.overlay.facts[u3]?.events.map(\.name) == ["purchase"] && latest.userIndex(of: "u3") == u3)
                #expect(latest.overlay.change(of: u1, after: serial) == .events(["purchase", "view_item"]))
                #expect(latest.overlay.change(of: u3, after: serial) == .anything)
                #expect(Set(latest.overlay.users(touchedAfter: serial)) == [u1, u3])
                // The catch-up skips what the state holds: u1 and u3 are not read again; u2 is read whole.
                let skipping = try await Self.read(
                    since: latest, server: server,
                    applied: [
                        TransactionUser(transaction: committed.transaction, user: u1), TransactionUser(transaction: committed.transaction, user: u3),
                    ])
                #expect(skipping.users[u1] == nil && skipping.users[u3] == nil && skipping.appendedEvents.isEmpty)
                #expect(skipping.users[u2]?.facts.events.count == 2)
                // (Without the record, u1's appended events come back before its last held one: read whole, still exact.)
                let rereading = try await Self.read(since: latest, server: server)
                #expect(rereading.users[u1]?.facts.events.count == 4 && rereading.appendedEvents[u1] == nil)

                // Appended twice before a catch-up; a late event is left to the catch-up (read whole).
                await registry.committed(try #require(try await Self.ingest(store, server, [event("u1", "purchase", -50)])))
                await registry.committed(try #require(try await Self.ingest(store, server, [event("u1", "view_item", -400)])))
                latest = try #require(await registry.latest(for: server.tenant)).audience
                #expect(latest.overlay.facts[u1]?.events.count == 5)
                state = try #require(await registry.current(for: server.tenant))
                #expect(state.overlay.serial > latest.overlay.serial)
                #expect(state.overlay.facts[u1]?.events.count == 6 && state.overlay.facts[u2]?.events.count == 2)
                try await Self.expectOverlayIsWhole(state, server: server, "after appends and a catch-up")
            }
        }
    }

    @Test("batches committed and appended while catch-ups run, from four writers: the state equals a whole read, no event twice")
    func appendsRaceCatchUps() async throws {
        try await TestServer.with(configure: { EngineRefreshTests.configure(&$0) }) { server in
            let t = Self.now
            try await Self.withOwnRegistry(server) { registry, store in
                // Twelve users that exist, and each writer creates a few as it goes.
                let users = (0..<12).map { "r\($0)" } + (0..<8).map { "n\($0)" }
                _ = try await Self.ingest(
                    store, server, users.prefix(12).map { EventInput(userID: $0, name: "view_item", time: t, properties: [:], messageID: nil) })
                await registry.load(server.tenant)
                _ = await registry.current(for: server.tenant)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in 0..<4 {
                        group.addTask {
                            for step in 0..<25 {
                                let at = t.addingTimeInterval(Double(step * 4 + writer + 1))
                                var batch: [EventInput] = []
                                for k in 0..<3 {
                                    let user: String = users[(writer * 3 + step + k * 5) % users.count]
                                    let name = k == 0 ? "purchase" : "view_item"
                                    let time: Date = at.addingTimeInterval(Double(k) / 1000)
                                    let properties: [String: RuleValue] = ["n": .number(Double(step))]
                                    batch.append(EventInput(userID: user, name: name, time: time, properties: properties, messageID: nil))
                                }
                                if let committed = try await Self.ingest(store, server, batch) { await registry.committed(committed) }
                            }
                        }
                    }
                    group.addTask {
                        for _ in 0..<30 {
                            _ = await registry.current(for: server.tenant)
                            await Task.yield()
                        }
                    }
                    try await group.waitForAll()
                }
                let state = try #require(await registry.current(for: server.tenant))
                #expect(state.overlay.facts.count == users.count)
                try await Self.expectOverlayIsWhole(state, server: server, "after racing writers")
            }
        }
    }
}
