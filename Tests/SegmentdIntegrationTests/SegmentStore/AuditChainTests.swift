import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("The audit chain's hash and head: a length-prefixed encoding, a head only the chain trigger writes", .timeLimit(.minutes(5)))
struct AuditChainTests {
    let logger = Logger(label: "test.audit-chain")

    /// Runs `statements` as `settings`' role in a session scoped to acme.
    static func run(_ settings: DatabaseSettings, _ statements: [String]) async throws {
        try await settings.withSingleConnection(logger: Logger(label: "t")) { connection in
            try await connection.query("SELECT set_config('app.tenant_id', 'acme', false)", logger: Logger(label: "t"))
            for statement in statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Logger(label: "t"))
            }
        }
    }

    /// The hash migration 2 computed (fields joined with chr(31)), for one entry, as the superuser.
    static func oldEncodingHash(_ server: TestServer, sequence: Int64) async throws -> String? {
        try await server.database.scalar(
            """
            SELECT encode(sha256(previous_hash || convert_to(concat_ws(chr(31),
                tenant_id, sequence::text, (extract(epoch FROM time) * 1000000)::bigint::text,
                actor, actor_display, action, resource, result, request_id, peer, user_agent,
                coalesce(before::text, ''), coalesce(after::text, '')), 'UTF8')), 'hex')
            FROM audit_events WHERE tenant_id = 'acme' AND sequence = \(sequence)
            """, as: String.self
        ).first
    }

    @Test("moving a chr(31) from a client's request id into the next field kept the old hash; now verify reports the entry")
    func separatorForgery() async throws {
        try await TestServer.with { server in
            // The client chooses its request id; this one holds the old separator.
            try await server.connect { connection in
                var metadata = connection.metadata
                metadata.addString("req\u{1F}evil", forKey: "x-request-id")
                _ = try await connection.access.createRole(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.roleID = "crafted"
                        $0.role.permissions = ["segments.read"]
                    }, metadata: metadata)
            }
            let sequence = try #require(
                try await server.database.scalar(
                    "SELECT sequence FROM audit_events WHERE tenant_id = 'acme' AND resource = 'tenants/acme/roles/crafted'", as: Int64.self
                ).first)
            #expect(
                try await server.database.scalar(
                    "SELECT request_id FROM audit_events WHERE tenant_id = 'acme' AND sequence = \(sequence)", as: String.self) == [
                        "req\u{1F}evil"
                    ])
            #expect(try await AuditLogTests.verify(server).ok)
            let oldBefore = try #require(try await Self.oldEncodingHash(server, sequence: sequence))

            // The database owner moves the boundary between request id and peer, hashes untouched.
            try await Self.run(
                server.database.owner,
                [
                    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update",
                    """
                    UPDATE audit_events SET request_id = 'req', peer = 'evil' || chr(31) || peer
                    WHERE tenant_id = 'acme' AND sequence = \(sequence)
                    """,
                    "ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update",
                ])

            // Under the old encoding the forged entry has the same hash: nothing could tell.
            #expect(try await Self.oldEncodingHash(server, sequence: sequence) == oldBefore)
            // Under the length-prefixed encoding it is a different entry.
            let result = try await AuditLogTests.verify(server)
            #expect(!result.ok)
            #expect(result.firstBadSequence == sequence)
            #expect(result.problem == "hash mismatch")
        }
    }

    @Test("each field is length-prefixed and NULL differs from empty: shifted boundaries and NULL/empty swaps hash differently")
    func encodingIsUnambiguous() async throws {
        try await TestServer.with { server in
            let zero = "'\\x" + String(repeating: "00", count: 32) + "'::bytea"
            func hash(_ actor: String, _ display: String, before: String = "NULL") -> String {
                """
                encode(audit_event_hash(\(zero), 'acme', 1, '2026-01-01T00:00:00Z', \(actor), \(display),
                       'a', 'r', 'OK', '', '', '', \(before), NULL), 'hex')
                """
            }
            let distinct = try await server.database.scalar(
                """
                SELECT count(DISTINCT h)::int FROM (VALUES
                    (\(hash("'ab'", "'c'"))), (\(hash("'a'", "'bc'"))), (\(hash("'a' || chr(31) || 'b'", "'c'"))),
                    (\(hash("'a'", "'b' || chr(31) || 'c'"))), (\(hash("'abc'", "''"))), (\(hash("''", "'abc'"))),
                    (\(hash("'a'", "'c'", before: "'null'::jsonb")))) AS t(h)
                """, as: Int.self)
            #expect(distinct == [7])
            #expect(try await server.database.scalar("SELECT audit_field(NULL) <> audit_field('')", as: Bool.self) == [true])
            #expect(
                try await server.database.scalar("SELECT encode(audit_field('é'), 'hex')", as: String.self) == ["0000000000000002c3a9"],
                "the length counts UTF-8 bytes, 8 bytes big-endian")
        }
    }

    @Test("the server role cannot rewind, insert or delete a chain head; the trigger keeps it, as the owner, with a fixed search_path")
    func headsAreTriggerOnly() async throws {
        try await TestServer.with { server in
            _ = try await server.createKey(roles: ["viewer"])
            let head = try await server.database.scalar("SELECT sequence FROM audit_chain_heads WHERE tenant_id = 'acme'", as: Int64.self)
            let zero = "'\\x" + String(repeating: "00", count: 32) + "'::bytea"
            let attacks = [
                // Rewind: the next entries would reuse sequence numbers and fork the chain.
                "UPDATE audit_chain_heads SET sequence = 1, hash = \(zero) WHERE tenant_id = 'acme'",
                "DELETE FROM audit_chain_heads WHERE tenant_id = 'acme'",
                "INSERT INTO audit_chain_heads (tenant_id, sequence, hash) VALUES ('acme', 1, \(zero)) ON CONFLICT (tenant_id) DO UPDATE SET sequence = 1",
                "TRUNCATE audit_chain_heads",
            ]
            for attack in attacks {
                do {
                    try await Self.run(server.database.app, [attack])
                    Issue.record("the server role ran: \(attack)")
                } catch let error as DomainError {
                    let state = (error.cause as? PSQLError)?.serverInfo?[.sqlState]
                    #expect(state == "42501", "\(attack): \(String(reflecting: error.cause))")
                }
            }
            #expect(try await server.database.scalar("SELECT sequence FROM audit_chain_heads WHERE tenant_id = 'acme'", as: Int64.self) == head)

            // Audited changes still extend the chain, through the trigger.
            _ = try await server.createKey(roles: ["viewer"], name: "after")
            let events = try await AuditLogTests.events(server)
            #expect(events.last?.sequence == (head.first ?? 0) + 1)
            #expect(try await AuditLogTests.verify(server).ok)

            let definer = try await server.database.scalar(
                "SELECT prosecdef AND proconfig = ARRAY['search_path=pg_catalog, public, pg_temp'] FROM pg_proc WHERE proname = 'audit_events_chain'",
                as: Bool.self)
            #expect(definer == [true])
            let privileges = try await server.database.scalar(
                """
                SELECT string_agg(privilege_type, ',' ORDER BY privilege_type) FROM information_schema.role_table_grants
                WHERE table_name = 'audit_chain_heads' AND grantee = '\(TestDatabase.appRole)'
                """, as: String.self)
            #expect(privileges == ["SELECT"])
        }
    }
}
