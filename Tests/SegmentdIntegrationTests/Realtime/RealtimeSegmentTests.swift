import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// Real-time segments over real PostgreSQL, TLS and gRPC, with the wall clock and
/// the timer window edges wait on both driven by the test: membership follows each
/// acknowledged batch, a user leaves at the instant a window edge passes (stamped
/// with it), references follow in dependency order, and every change is in the log
/// with cause `realtime`, alternating entered/exited per user.
@Suite("Real-time segments: kept true per batch and at window edges, fenced by a lease", .timeLimit(.minutes(5)))
struct RealtimeSegmentTests {
    static let parent = "tenants/acme"
    /// 2026-11-20T14:00:00Z (23:00 in Tokyo).
    static let start = Date(timeIntervalSince1970: 1_795_615_200)

    static func configure(_ configuration: inout UseCases.Configuration, clock: ManualWallClock) {
        configuration.clock = { clock.now() }
        configuration.realtimeTimer = clock
        configuration.engineMemoryBudget = 64 << 20
        configuration.engineReloadInterval = .zero
    }

    static func createRealtime(_ connection: SegmentdConnection, _ id: String, _ rule: String) async throws -> Segmentd_V1_Segment {
        try await connection.segments.createSegment(
            .with {
                $0.parent = parent
                $0.segmentID = id
                $0.segment = .with {
                    $0.rule = .with { $0.text = rule }
                    $0.schedule = .with { $0.manual = true }
                    $0.realTime = true
                }
            }, metadata: connection.metadata)
    }

    static func ingest(_ connection: SegmentdConnection, _ events: [Segmentd_V1_Event]) async throws {
        _ = try await connection.ingestion.ingestEvents(
            .with {
                $0.parent = parent
                $0.events = events
            }, metadata: connection.metadata)
    }

    static func profile(_ connection: SegmentdConnection, _ user: String, _ attributes: [String: Segmentd_V1_Value]) async throws {
        _ = try await connection.ingestion.upsertProfiles(
            .with {
                $0.parent = parent
                $0.profiles = [
                    .with {
                        $0.userID = user
                        $0.attributes = attributes
                    }
                ]
            }, metadata: connection.metadata)
    }

    /// The segment's members now (external ids, sorted), as stored.
    static func members(_ server: TestServer, _ id: String) async throws -> [String] {
        try await RefreshTests.members(server, id)
    }

    /// The segment's change log: "user in|out cause effective-time", in position order.
    static func log(_ server: TestServer, _ id: String) async throws -> [String] {
        try await server.database.scalar(
            """
            SELECT u.external_id || ' ' || CASE WHEN c.entered THEN 'in' ELSE 'out' END || ' ' || c.cause || ' '
                   || to_char(c.effective_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS')
            FROM membership_changes c JOIN users u ON u.tenant_id = c.tenant_id AND u.user_index = c.user_index
            WHERE c.segment_id = '\(id)' ORDER BY c.position
            """, as: String.self)
    }

    /// `date` as the log prints it (UTC, to the millisecond).
    static func stamp(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(millis / 1000))) + "." + String(format: "%03lld", millis % 1000)
    }

    /// Per (segment, user), the log alternates entered and exited, starting with entered.
    static func expectAlternating(_ server: TestServer) async throws {
        let rows = try await server.database.scalar(
            "SELECT segment_id || ' ' || user_index || ' ' || entered::text FROM membership_changes ORDER BY position", as: String.self)
        var last: [String: Bool] = [:]
        for row in rows {
            let parts = row.split(separator: " ")
            let key = "\(parts[0]) \(parts[1])"
            let entered = parts[2] == "true"
            #expect(last[key] != entered && (last[key] != nil || entered), "\(key) changed to \(entered) twice in a row")
            last[key] = entered
        }
    }

    @Test("cart abandoners: enter on add_to_cart, leave on purchase, and leave by time alone at the window edge")
    func cartAbandoners() async throws {
        let clock = ManualWallClock(Self.start)
        let t0 = Self.start
        try await TestServer.with(configure: { Self.configure(&$0, clock: clock) }) { server in
            let realtime = try #require(server.server.realtime)
            try await server.connect { connection in
                try await Self.ingest(
                    connection,
                    [
                        .make("u1", "add_to_cart", at: t0.addingTimeInterval(-7200)),
                        .make("u2", "app_open", at: t0.addingTimeInterval(-3600)),
                        .make("u3", "add_to_cart", at: t0.addingTimeInterval(-30 * 3600)),
                    ])
                let created = try await Self.createRealtime(
                    connection, "cart_abandoners", "did add_to_cart in last 24h and not did purchase in last 24h")
                #expect(created.realTime)
                await realtime.sync(server.tenant)
                #expect(try await Self.members(server, "cart_abandoners") == ["u1"])
                // Its members follow revision 1 (no refresh ran): the segment says it is fresh.
                let kept = try await connection.segments.getSegment(
                    .with { $0.name = "\(Self.parent)/segments/cart_abandoners" }, metadata: connection.metadata)
                #expect(kept.freshness == .fresh && kept.refreshedRevision == 1 && kept.size == 1)

                clock.advance(by: 60)
                let t1 = clock.now()
                try await Self.ingest(connection, [.make("u2", "add_to_cart", at: t1)])
                await realtime.sync(server.tenant)
                #expect(try await Self.members(server, "cart_abandoners") == ["u1", "u2"])
                // Answered by CheckMembership at once.
                let check = try await connection.membership.checkMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.userID = "u2"
                        $0.segments = ["cart_abandoners"]
                    }, metadata: connection.metadata)
                #expect(check.results.first?.member == true)

                try await Self.ingest(connection, [.make("u1", "purchase", at: t1)])
                await realtime.sync(server.tenant)
                #expect(try await Self.members(server, "cart_abandoners") == ["u2"])

                // u2's add_to_cart turns 24 hours old: u2 leaves at that instant, with no event.
                clock.advance(to: t1.addingTimeInterval(24 * 3600 + 1))
                await realtime.sync(server.tenant)
                #expect(try await Self.members(server, "cart_abandoners") == [])
                let log = try await Self.log(server, "cart_abandoners")
                #expect(
                    log == [
                        "u1 in realtime \(Self.stamp(t0))",
                        "u2 in realtime \(Self.stamp(t1))",
                        "u1 out realtime \(Self.stamp(t1))",
                        "u2 out realtime \(Self.stamp(t1.addingTimeInterval(24 * 3600 + 0.000_001)))",
                    ], "\(log)")
                // To the microsecond: still a member at the edge itself, out one microsecond after.
                let exitMicros = try await server.database.scalar(
                    "SELECT (extract(epoch FROM effective_at) * 1000000)::int8 FROM membership_changes ORDER BY position DESC LIMIT 1", as: Int64.self
                )
                let edgeMicros = Int64((t1.timeIntervalSince1970 + 24 * 3600) * 1_000_000)
                #expect(exitMicros.first.map { $0 - edgeMicros } == 1, "\(exitMicros) vs \(edgeMicros)")
                try await Self.expectAlternating(server)
                let size = try await server.database.scalar("SELECT size FROM segments WHERE segment_id = 'cart_abandoners'", as: Int64.self)
                #expect(size == [0])
            }
        }
    }

    @Test("with no one asking, each acknowledged batch alone moves a real-time segment: the change arrives on a watch")
    func ingestAloneMovesMembers() async throws {
        let clock = ManualWallClock(Self.start)
        try await TestServer.with(configure: { Self.configure(&$0, clock: clock) }) { server in
            let realtime = try #require(server.server.realtime)
            try await server.connect { connection in
                _ = try await Self.createRealtime(connection, "carts", "did add_to_cart in last 24h")
                await realtime.sync(server.tenant)
                clock.advance(by: 60)
                let t1 = clock.now()
                // No sync: the catch-up each batch starts wakes the loop, which runs on the state it made.
                for user in ["u1", "u2", "u3"] {
                    let messages = try await ChangeWatchTests.watch(
                        connection,
                        .with {
                            $0.parent = Self.parent
                            $0.afterPosition = 0
                        },
                        until: { ChangeWatchTests.changes($0).contains { $0.userID == user } }
                    ) {
                        try await Self.ingest(connection, [.make(user, "add_to_cart", at: t1)])
                    }
                    let change = try #require(ChangeWatchTests.changes(messages).first { $0.userID == user })
                    #expect(change.kind == .entered && change.effectiveTime.date == t1)
                }
                #expect(try await Self.members(server, "carts") == ["u1", "u2", "u3"])
                #expect(try await Self.log(server, "carts") == ["u1", "u2", "u3"].map { "\($0) in realtime \(Self.stamp(t1))" })
                try await Self.expectAlternating(server)
            }
        }
    }

    @Test("every criterion kind enters on its data and leaves by its data or its window")
    func everyKind() async throws {
        let clock = ManualWallClock(Self.start)
        let t0 = Self.start
        try await TestServer.with(configure: { Self.configure(&$0, clock: clock) }) { server in
            let realtime = try #require(server.server.realtime)
            try await server.connect { connection in
                try await Self.ingest(connection, [.make("u1", "signup", at: t0.addingTimeInterval(-60)), .make("u2", "signup", at: t0)])
                _ = try await connection.tags.createTag(
                    .with {
                        $0.parent = Self.parent
                        $0.tagID = "vip"
                    }, metadata: connection.metadata)
                let segments = [
                    ("gold", "profile.tier = \"gold\""),
                    ("vips", "has tag vip"),
                    ("clickers", "clicked campaign spring in last 7d"),
                    ("nearby", "within 10km of (41.01, 28.97) seen in last 1h"),
                    ("frequent", "did app_open at least 3 times in last 7d"),
                    ("spenders", "sum(purchase.amount) in last 30d >= 100"),
                    ("new_openers", "first time did app_open was in last 2d"),
                    ("fresh_signups", "profile.signed_up_at less than 1d ago"),
                    ("lapsed", "did signup and not did app_open in last 3d"),
                ]
                for (id, rule) in segments { _ = try await Self.createRealtime(connection, id, rule) }
                await realtime.sync(server.tenant)
                #expect(try await Self.members(server, "lapsed") == ["u1", "u2"])
                #expect(try await Self.members(server, "gold") == [])

                try await Self.profile(connection, "u1", ["tier": .string("gold"), "signed_up_at": .with { $0.timestampValue = .init(date: t0) }])
                _ = try await connection.tags.assignTags(
                    .with {
                        $0.parent = Self.parent
                        $0.tags = ["vip"]
                        $0.userIds = ["u1"]
                    }, metadata: connection.metadata)
                _ = try await connection.ingestion.recordCampaignResponses(
                    .with {
                        $0.parent = Self.parent
                        $0.responses = [
                            .with {
                                $0.userID = "u1"
                                $0.campaignID = "spring"
                                $0.kind = .clicked
                                $0.time = .init(date: t0)
                            }
                        ]
                    }, metadata: connection.metadata)
                _ = try await connection.ingestion.recordLocations(
                    .with {
                        $0.parent = Self.parent
                        $0.locations = [
                            .with {
                                $0.userID = "u1"
                                $0.point = .with {
                                    $0.latitude = 41.0
                                    $0.longitude = 28.98
                                }
                                $0.time = .init(date: t0)
                            }
                        ]
                    }, metadata: connection.metadata)
                try await Self.ingest(
                    connection,
                    (0..<3).map { .make("u1", "app_open", at: t0.addingTimeInterval(-Double($0))) }
                        + [.make("u1", "purchase", at: t0, ["amount": .number(120)])])
                await realtime.sync(server.tenant)
                for (id, _) in segments where id != "lapsed" {
                    #expect(try await Self.members(server, id) == ["u1"], "\(id)")
                }
                #expect(try await Self.members(server, "lapsed") == ["u2"])

                // Data takes u1 out of the data-only segments.
                try await Self.profile(connection, "u1", ["tier": .string("silver")])
                _ = try await connection.tags.unassignTags(
                    .with {
                        $0.parent = Self.parent
                        $0.tags = ["vip"]
                        $0.userIds = ["u1"]
                    }, metadata: connection.metadata)
                await realtime.sync(server.tenant)
                #expect(try await Self.members(server, "gold") == [])
                #expect(try await Self.members(server, "vips") == [])

                // Time alone: an hour (the location), a day (the signup time), two days (the first app_open), three (lapsed again).
                clock.advance(by: 3601)
                await realtime.sync(server.tenant)
                #expect(try await Self.members(server, "nearby") == [])
                #expect(try await Self.members(server, "fresh_signups") == ["u1"])
                clock.advance(by: 86_400)
                await realtime.sync(server.tenant)
                #expect(try await Self.members(server, "fresh_signups") == [])
                #expect(try await Self.members(server, "new_openers") == ["u1"])
                clock.advance(by: 86_400)
                await realtime.sync(server.tenant)
                #expect(try await Self.members(server, "new_openers") == [])
                clock.advance(by: 86_400)
                await realtime.sync(server.tenant)
                #expect(try await Self.members(server, "lapsed") == ["u1", "u2"])
                #expect(try await Self.members(server, "frequent") == ["u1"])
                clock.advance(by: 4 * 86_400)
                await realtime.sync(server.tenant)
                #expect(try await Self.members(server, "frequent") == [])
                #expect(try await Self.members(server, "clickers") == [])
                #expect(try await Self.members(server, "spenders") == ["u1"])
                clock.advance(by: 23 * 86_400)
                await realtime.sync(server.tenant)
                #expect(try await Self.members(server, "spenders") == [])
                try await Self.expectAlternating(server)
                let causes = try await server.database.scalar("SELECT DISTINCT cause FROM membership_changes", as: String.self)
                #expect(causes == ["realtime"])
            }
        }
    }

    @Test("a calendar window turns over at midnight in the user's time zone, and a chain of references follows at the same instant")
    func calendarAndChains() async throws {
        let clock = ManualWallClock(Self.start)  // 23:00 in Tokyo, 14:00 UTC
        let t0 = Self.start
        try await TestServer.with(configure: { Self.configure(&$0, clock: clock) }) { server in
            let realtime = try #require(server.server.realtime)
            try await server.connect { connection in
                try await Self.profile(connection, "tokyo", ["time_zone": .string("Asia/Tokyo")])
                try await Self.profile(connection, "utc", ["tier": .string("silver")])
                _ = try await connection.tags.createTag(
                    .with {
                        $0.parent = Self.parent
                        $0.tagID = "vip"
                    }, metadata: connection.metadata)
                _ = try await connection.tags.assignTags(
                    .with {
                        $0.parent = Self.parent
                        $0.tags = ["vip"]
                        $0.userIds = ["tokyo", "utc"]
                    }, metadata: connection.metadata)
                _ = try await Self.createRealtime(connection, "bought_today", "did purchase today in user time zone")
                _ = try await Self.createRealtime(connection, "vip_today", "in segment bought_today and has tag vip")
                _ = try await Self.createRealtime(connection, "vip_today_chain", "in segment vip_today")
                try await Self.ingest(connection, [.make("tokyo", "purchase", at: t0), .make("utc", "purchase", at: t0)])
                await realtime.sync(server.tenant)
                for id in ["bought_today", "vip_today", "vip_today_chain"] {
                    #expect(try await Self.members(server, id) == ["tokyo", "utc"], "\(id)")
                }
                // Midnight in Tokyo (15:00 UTC): the Tokyo user's "today" is over; the UTC user's is not.
                let tokyoMidnight = t0.addingTimeInterval(3600)
                clock.advance(to: tokyoMidnight.addingTimeInterval(1))
                await realtime.sync(server.tenant)
                for id in ["bought_today", "vip_today", "vip_today_chain"] {
                    #expect(try await Self.members(server, id) == ["utc"], "\(id)")
                    #expect(try await Self.log(server, id).last == "tokyo out realtime \(Self.stamp(tokyoMidnight))", "\(id)")
                }
                // Midnight UTC.
                let utcMidnight = t0.addingTimeInterval(10 * 3600)
                clock.advance(to: utcMidnight.addingTimeInterval(1))
                await realtime.sync(server.tenant)
                for id in ["bought_today", "vip_today", "vip_today_chain"] {
                    #expect(try await Self.members(server, id) == [], "\(id)")
                    #expect(try await Self.log(server, id).last == "utc out realtime \(Self.stamp(utcMidnight))", "\(id)")
                }
                try await Self.expectAlternating(server)
            }
        }
    }

    @Test("a refresh of a real-time segment agrees with it; a difference is corrected, and real time goes on from the stored members")
    func refreshReconciles() async throws {
        let clock = ManualWallClock(Self.start)
        let t0 = Self.start
        try await TestServer.with(configure: { Self.configure(&$0, clock: clock) }) { server in
            let realtime = try #require(server.server.realtime)
            try await server.connect { connection in
                try await Self.ingest(connection, [.make("u1", "add_to_cart", at: t0), .make("u2", "add_to_cart", at: t0)])
                _ = try await Self.createRealtime(connection, "carts", "did add_to_cart in last 1h")
                await realtime.sync(server.tenant)
                try await server.worker.drain()
                // The refresh the creation queued found nothing to change.
                #expect(try await Self.log(server, "carts").count == 2)
                // Someone removes u2 behind real time's back; a refresh puts it back.
                _ = try await server.database.scalar(
                    "DELETE FROM segment_members WHERE segment_id = 'carts' AND user_index = (SELECT user_index FROM users WHERE external_id = 'u2') RETURNING 1",
                    as: Int.self)
                _ = try await connection.segments.refreshSegment(
                    .with { $0.name = "\(Self.parent)/segments/carts" }, metadata: connection.metadata)
                try await server.worker.drain()
                #expect(try await Self.log(server, "carts").last?.hasPrefix("u2 in refresh") == true)
                // Real time reads the members again (a write it did not make moved the version) and goes on:
                // nothing to change now, and both leave at the edge.
                await realtime.sync(server.tenant)
                #expect(try await Self.log(server, "carts").count == 3)
                clock.advance(to: t0.addingTimeInterval(3601))
                await realtime.sync(server.tenant)
                #expect(try await Self.members(server, "carts") == [])
                // (The log does not alternate here: the removal behind its back was not logged.)
                let log = try await Self.log(server, "carts")
                #expect(
                    log.suffix(2).sorted() == [
                        "u1 out realtime \(Self.stamp(t0.addingTimeInterval(3600)))", "u2 out realtime \(Self.stamp(t0.addingTimeInterval(3600)))",
                    ], "\(log)")
            }
        }
    }

    @Test("two replicas: one owner at a time, ingest on either, the lease moves when the owner dies, and a stale owner cannot write")
    func twoReplicas() async throws {
        let clock = ManualWallClock(Self.start)
        let t0 = Self.start
        try await TestServer.with(configure: { Self.configure(&$0, clock: clock) }) { first in
            let a = try #require(first.server.realtime)
            try await TestServer.with(replicaOf: first, configure: { Self.configure(&$0, clock: clock) }) { second in
                let b = try #require(second.server.realtime)
                try await first.connect { connection in
                    _ = try await Self.createRealtime(connection, "carts", "did add_to_cart in last 1h")
                }
                await a.sync(first.tenant)
                await b.sync(first.tenant)
                let ownedByA = await a.owned
                #expect(ownedByA[first.tenant]?.epoch == 1)
                #expect(await b.owned.isEmpty)

                // Ingest through the replica that does not own the tenant.
                try await second.connect { connection in try await Self.ingest(connection, [.make("u1", "add_to_cart", at: t0)]) }
                await a.sync(first.tenant)
                #expect(try await Self.members(first, "carts") == ["u1"])

                // The owner dies without giving the lease up: nobody takes over until it expires.
                await a.shutdown(releasing: false)
                await b.sync(first.tenant)
                #expect(await b.owned.isEmpty)
                clock.advance(by: 16)
                try await second.connect { connection in try await Self.ingest(connection, [.make("u2", "add_to_cart", at: clock.now())]) }
                await b.sync(first.tenant)
                #expect(await b.owned[first.tenant]?.epoch == 2)
                #expect(try await Self.members(first, "carts") == ["u1", "u2"])

                // The old owner's epoch is refused: nothing of its write lands.
                let store = first.server.realtimeStore
                let stale = RealtimeLease(tenant: first.tenant, owner: a.settings.owner, epoch: 1, expiresAt: clock.now())
                await #expect(throws: RealtimeWriteRefusal.leaseLost) {
                    let write = RealtimeWrite(segmentID: "carts", expectedVersion: 0, changes: [(user: 0, entered: false, at: clock.now())])
                    _ = try await store.write([write], lease: stale)
                }
                // The new owner keeps the window edges: both leave an hour after their carts.
                clock.advance(to: t0.addingTimeInterval(3600 + 16 + 1))
                await b.sync(first.tenant)
                #expect(try await Self.members(first, "carts") == [])
                let log = try await Self.log(first, "carts")
                #expect(log.count == 4, "\(log)")
                try await Self.expectAlternating(first)
            }
        }
    }
}
