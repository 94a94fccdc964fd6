import Foundation
import GRPCCore
import GRPCProtobuf
import SegmentDomain
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("Events: atomic, idempotent, validated batches with rollups and a catalog", .timeLimit(.minutes(5)))
struct EventIngestionTests {
    let now = Date()

    @Test("a batch is written with its users; replaying it changes nothing")
    func idempotentReplay() async throws {
        try await TestServer.with { server in
            var events: [Segmentd_V1_Event] = []
            for index in 0..<50 {
                let name = index % 2 == 0 ? "purchase" : "app_open"
                let time = now.addingTimeInterval(Double(-index * 60))
                let amount = Segmentd_V1_Value.number(Double(index))
                events.append(.make("u\(index % 10)", name, at: time, id: "m\(index)", ["amount": amount]))
            }
            try await server.connect { connection in
                let first = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.events = events
                    }, metadata: connection.metadata)
                #expect(first.accepted == 50)
                #expect(first.duplicates == 0)
                #expect(first.newUsers == 10)
                let rollupsBefore = try await server.database.scalar(
                    "SELECT md5(string_agg(r::text, ',' ORDER BY event_name, day, user_index)) FROM event_rollups r", as: String.self)
                let replay = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.events = events
                    }, metadata: connection.metadata)
                #expect(replay.accepted == 0)
                #expect(replay.duplicates == 50)
                #expect(replay.newUsers == 0)
                #expect(try await server.database.scalar("SELECT count(*) FROM events", as: Int.self) == [50])
                #expect(
                    try await server.database.scalar(
                        "SELECT md5(string_agg(r::text, ',' ORDER BY event_name, day, user_index)) FROM event_rollups r", as: String.self)
                        == rollupsBefore)
                // The same message id twice within one batch is kept once.
                let doubled = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.events = [.make("u1", "app_open", id: "x"), .make("u1", "app_open", id: "x")]
                    },
                    metadata: connection.metadata)
                #expect(doubled.accepted == 1)
                #expect(doubled.duplicates == 1)
            }
        }
    }

    @Test("a bad batch is rejected whole with every bad record listed by index, field and reason; nothing is written")
    func rejectedWhole() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.events = [.make("u1", "purchase", ["amount": .number(10)])]
                    },
                    metadata: connection.metadata)
                let batch: [Segmentd_V1_Event] = [
                    .make("u2", "purchase", ["amount": .number(5)]),  // fine
                    .make("u3", "purchase", ["amount": .string("five")]),  // type mismatch
                    .make("", "purchase"),  // no user
                    .make("u4", "Bad-Name"),  // name
                    .make("u5", "view_item", at: now.addingTimeInterval(3600)),  // future
                ]
                do {
                    _ = try await connection.ingestion.ingestEvents(
                        .with {
                            $0.parent = "tenants/acme"
                            $0.events = batch
                        }, metadata: connection.metadata)
                    Issue.record("expected INVALID_ARGUMENT")
                } catch let error as RPCError {
                    #expect(error.code == .invalidArgument)
                    let status = try #require(try error.unpackGoogleRPCStatus())
                    let violations = status.details.compactMap(\.badRequest).flatMap(\.violations)
                    let fields = Set(violations.map(\.field))
                    #expect(fields == ["events[2].user_id", "events[3].name", "events[4].time"], "shape errors are found first: \(fields)")
                }
                // Only the type mismatch left: found against the catalog, inside the transaction.
                do {
                    _ = try await connection.ingestion.ingestEvents(
                        .with {
                            $0.parent = "tenants/acme"
                            $0.events = Array(batch.prefix(2))
                        }, metadata: connection.metadata)
                    Issue.record("expected INVALID_ARGUMENT")
                } catch let error as RPCError {
                    let status = try #require(try error.unpackGoogleRPCStatus())
                    let violations = status.details.compactMap(\.badRequest).flatMap(\.violations)
                    #expect(violations.map(\.field) == ["events[1].properties.amount"])
                    #expect(violations.first?.violationDescription.contains("is number on purchase") == true)
                }
                #expect(try await server.database.scalar("SELECT count(*) FROM events", as: Int.self) == [1])
                #expect(try await server.database.scalar("SELECT count(*) FROM users", as: Int.self) == [1], "no user of a rejected batch stays")
                let tooMany = (0..<1001).map { Segmentd_V1_Event.make("u\($0)", "app_open") }
                await #expect {
                    try await connection.ingestion.ingestEvents(
                        .with {
                            $0.parent = "tenants/acme"
                            $0.events = tooMany
                        }, metadata: connection.metadata)
                } throws: { ($0 as? RPCError)?.code == .resourceExhausted }
                let manyProperties = Dictionary(uniqueKeysWithValues: (0..<51).map { ("p\($0)", Segmentd_V1_Value.number(1)) })
                await #expect {
                    try await connection.ingestion.ingestEvents(
                        .with {
                            $0.parent = "tenants/acme"
                            $0.events = [.make("u1", "app_open", manyProperties)]
                        }, metadata: connection.metadata)
                } throws: { ($0 as? RPCError)?.code == .invalidArgument }
            }
        }
    }

    @Test("rollups always equal a recount from raw events (random batches, late events, replays)")
    func rollupsMatchRecount() async throws {
        try await TestServer.with { server in
            var generator = SplitMix64(seed: 42)
            try await server.connect { connection in
                var sent: [Segmentd_V1_Event] = []
                for batch in 0..<8 {
                    var events: [Segmentd_V1_Event] = []
                    for _ in 0..<Int.random(in: 50...200, using: &generator) {
                        let age = Double(Int.random(in: 0...(40 * 86_400), using: &generator))
                        var properties: [String: Segmentd_V1_Value] = [:]
                        if Bool.random(using: &generator) { properties["amount"] = .number(Double(Int.random(in: -50...500, using: &generator)) / 4) }
                        if Bool.random(using: &generator) { properties["qty"] = .number(Double(Int.random(in: 1...5, using: &generator))) }
                        properties["currency"] = .string(Bool.random(using: &generator) ? "EUR" : "TRY")
                        events.append(
                            .make(
                                "u\(Int.random(in: 0..<30, using: &generator))",
                                ["purchase", "app_open", "view_item"][Int.random(in: 0..<3, using: &generator)],
                                at: now.addingTimeInterval(-age), id: "b\(batch)-\(events.count)", properties))
                    }
                    // Replays of earlier events mixed in.
                    if batch > 0 { events += sent.shuffled(using: &generator).prefix(20) }
                    sent += events
                    _ = try await connection.ingestion.ingestEvents(
                        .with {
                            $0.parent = "tenants/acme"
                            $0.events = events
                        }, metadata: connection.metadata)
                }
            }
            let mismatches = try await server.database.scalar(
                """
                WITH recount AS (
                    SELECT tenant_id, event_name, (time AT TIME ZONE 'UTC')::date AS day, user_index, count(*) AS count,
                           min(time) AS first_at, max(time) AS last_at,
                           sum((properties->>'amount')::float8) AS amount_sum, count(properties->'amount') AS amount_n,
                           min((properties->>'amount')::float8) AS amount_min, max((properties->>'amount')::float8) AS amount_max,
                           sum((properties->>'qty')::float8) AS qty_sum
                    FROM events GROUP BY 1, 2, 3, 4
                )
                SELECT count(*)::int FROM recount c FULL JOIN event_rollups r USING (tenant_id, event_name, day, user_index)
                WHERE r.count IS DISTINCT FROM c.count OR r.first_at IS DISTINCT FROM c.first_at OR r.last_at IS DISTINCT FROM c.last_at
                   OR (r.numbers->'amount'->>'s')::float8 IS DISTINCT FROM c.amount_sum
                   OR coalesce((r.numbers->'amount'->>'n')::int8, 0) IS DISTINCT FROM c.amount_n
                   OR (r.numbers->'amount'->>'mn')::float8 IS DISTINCT FROM c.amount_min
                   OR (r.numbers->'amount'->>'mx')::float8 IS DISTINCT FROM c.amount_max
                   OR (r.numbers->'qty'->>'s')::float8 IS DISTINCT FROM c.qty_sum
                   OR r.numbers ? 'currency'
                """, as: Int.self)
            #expect(mismatches == [0])
            #expect(try await server.database.scalar("SELECT count(DISTINCT day)::int FROM event_rollups", as: Int.self).first ?? 0 > 30)
        }
    }

    @Test("the catalog lists event types with property types, attributes and campaigns")
    func catalog() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.events = [
                            .make("u1", "purchase", ["amount": .number(10), "currency": .string("EUR")]),
                            .make("u2", "purchase", ["coupon": .bool(true)]), .make("u2", "app_open"),
                        ]
                    }, metadata: connection.metadata)
                let types = try await connection.catalog.listEventTypes(.with { $0.parent = "tenants/acme" }, metadata: connection.metadata)
                #expect(types.eventTypes.map(\.event) == ["app_open", "purchase"])
                let purchase = try #require(types.eventTypes.last)
                #expect(purchase.count == 2)
                #expect(purchase.properties.map(\.key) == ["amount", "coupon", "currency"])
                #expect(purchase.properties.map(\.type) == [.number, .bool, .string])
            }
        }
    }

    @Test("events land in monthly partitions made on demand, old and new")
    func partitions() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                let old = now.addingTimeInterval(-400 * 86_400)
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.events = [.make("u1", "app_open", at: old), .make("u1", "app_open")]
                    },
                    metadata: connection.metadata)
            }
            let inDefault = try await server.database.scalar("SELECT count(*)::int FROM events_default", as: Int.self)
            #expect(inDefault == [0])
            let partitions = try await server.database.scalar(
                "SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'events'::regclass", as: Int.self)
            #expect((partitions.first ?? 0) >= 6, "last month, this month, three ahead, and the old event's month (+ default)")
            let forced = try await server.database.scalar(
                "SELECT bool_and(c.relforcerowsecurity) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass",
                as: Bool.self)
            #expect(forced == [true])
        }
    }
}
