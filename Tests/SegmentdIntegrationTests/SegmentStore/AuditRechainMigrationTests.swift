import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentStore
import SegmentdTestSupport
import Testing

@Suite("Migration 9 re-chains every audit log with the length-prefixed hash, keeping every entry", .timeLimit(.minutes(5)))
struct AuditRechainMigrationTests {
    let logger = Logger(label: "test.rechain")
    static let acme = TenantID("acme")!

    /// A database at migration 8 (the concat_ws hash), bootstrapped, with `extra` more entries in acme's
    /// chain whose client-controlled fields hold chr(31).
    func databaseBeforeRechain(extra: Int) async throws -> TestDatabase {
        let database = try await TestDatabase.create()
        try await Migrator(
            owner: database.owner, appRole: TestDatabase.appRole, migrations: Migrations.all.filter { $0.version <= 8 }, logger: logger
        ).migrate()
        let logger = self.logger
        try await MigrationTests.withDatabase(database.app) { app in
            _ = try await Bootstrapper(database: app, logger: logger).bootstrapIfNeeded(tenantID: Self.acme, displayName: "Acme")
            for index in 0..<extra {
                try await AuditLog(database: app).append(
                    AuditEntry(
                        actor: AuditActor(
                            name: "tenants/acme/apiKeys/k\(index)", display: "sgd_live_ab", requestID: "req\u{1F}\(index)", peer: "127.0.0.1:1",
                            userAgent: "ua\u{1F}x"),
                        action: "segmentd.v1.AccessService/CreateRole", resource: "tenants/acme/roles/r\(index)", result: "OK",
                        before: index.isMultiple(of: 2) ? nil : ["display_name": .string("old")], after: ["index": .number(Double(index))]),
                    tenant: Self.acme)
            }
            #expect(try await AuditLog(database: app).verify(tenant: Self.acme).ok, "the old chain verifies at migration 8")
        }
        return database
    }

    /// Every entry's content (all but the hashes), by tenant and sequence.
    static func contents(_ database: TestDatabase) async throws -> [String] {
        try await database.scalar(
            "SELECT (to_jsonb(e) - 'hash' - 'previous_hash')::text FROM audit_events e ORDER BY tenant_id, sequence", as: String.self)
    }

    static func hashes(_ database: TestDatabase) async throws -> [String] {
        try await database.scalar("SELECT encode(hash, 'hex') FROM audit_events ORDER BY tenant_id, sequence", as: String.self)
    }

    /// The `after` of each chain's `audit.rechain` entry, by tenant.
    static func rechainEntries(_ database: TestDatabase) async throws -> [String: [String: Any]] {
        let rows = try await database.scalar(
            "SELECT jsonb_build_object('tenant', tenant_id, 'sequence', sequence, 'after', after)::text FROM audit_events WHERE action = 'audit.rechain'",
            as: String.self)
        var entries: [String: [String: Any]] = [:]
        for row in rows {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any])
            var after = try #require(object["after"] as? [String: Any])
            after["sequence"] = object["sequence"]
            entries[try #require(object["tenant"] as? String)] = after
        }
        return entries
    }

    @Test("every entry keeps its content and sequence, every hash is recomputed in order, each chain records the re-chain, and all verify")
    func rechainKeepsEverything() async throws {
        let database = try await databaseBeforeRechain(extra: 12)
        let contentsBefore = try await Self.contents(database)
        let hashesBefore = try await Self.hashes(database)
        #expect(contentsBefore.count == 14)  // acme: bootstrap + 12; platform: bootstrap

        #expect(try await Migrator(owner: database.owner, appRole: TestDatabase.appRole, logger: logger).migrate().first == 9)

        // Every entry is still there, unchanged but for its hashes; each chain has one entry more.
        let contentsAfter = try await Self.contents(database)
        #expect(contentsAfter.count == contentsBefore.count + 2)
        let kept = try await database.scalar(
            """
            SELECT (to_jsonb(e) - 'hash' - 'previous_hash')::text FROM audit_events e
            WHERE action <> 'audit.rechain' ORDER BY tenant_id, sequence
            """, as: String.self)
        #expect(kept == contentsBefore)
        let hashesAfter = try await database.scalar(
            "SELECT encode(hash, 'hex') FROM audit_events WHERE action <> 'audit.rechain' ORDER BY tenant_id, sequence", as: String.self)
        #expect(hashesAfter.count == hashesBefore.count)
        #expect(zip(hashesAfter, hashesBefore).allSatisfy { $0 != $1 }, "every hash was recomputed")

        let rechains = try await Self.rechainEntries(database)
        #expect(rechains["acme"]?["previous_chain"] as? String == "intact")
        #expect(rechains["acme"]?["entries"] as? Int == 13)
        #expect(rechains["acme"]?["sequence"] as? Int == 14)
        #expect((rechains["acme"]?["previous_head_hash"] as? String).map { hashesBefore.contains($0) } == true)
        #expect(rechains["platform"]?["previous_chain"] as? String == "intact")
        #expect(try await database.scalar("SELECT count(*)::int FROM pg_proc WHERE proname = 'audit_event_hash_v1'", as: Int.self) == [0])

        try await MigrationTests.withDatabase(database.app) { app in
            let log = AuditLog(database: app)
            let acme = try await log.verify(tenant: Self.acme)
            #expect(acme.ok, "\(acme)")
            #expect(acme.checked == 14)
            #expect(try await log.verify(tenant: .platform).ok)
            // The chain goes on from the re-chained head.
            try await log.append(
                AuditEntry(actor: .system, action: "after", resource: "tenants/acme", result: "OK"), tenant: Self.acme)
            let extended = try await log.verify(tenant: Self.acme)
            #expect(extended.ok && extended.headSequence == 15, "\(extended)")
        }
    }

    @Test("a chain tampered with before the upgrade is not silently made whole: its re-chain entry says where it broke")
    func rechainRecordsABrokenChain() async throws {
        let database = try await databaseBeforeRechain(extra: 5)
        try await database.superuser.withSingleConnection(logger: logger) { connection in
            for statement in [
                "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update",
                "UPDATE audit_events SET result = 'PERMISSION_DENIED' WHERE tenant_id = 'acme' AND sequence = 3",
                "ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update",
            ] {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
        let count = try await Self.contents(database).count
        try await Migrator(owner: database.owner, appRole: TestDatabase.appRole, logger: logger).migrate()
        #expect(try await Self.contents(database).count == count + 2)
        let rechains = try await Self.rechainEntries(database)
        #expect(rechains["acme"]?["previous_chain"] as? String == "hash mismatch at sequence 3")
        #expect(rechains["platform"]?["previous_chain"] as? String == "intact")
        #expect(
            try await database.scalar("SELECT result FROM audit_events WHERE tenant_id = 'acme' AND sequence = 3", as: String.self) == [
                "PERMISSION_DENIED"
            ], "the entry is kept as found")
    }
}
