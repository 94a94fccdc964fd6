import Crypto
import Dispatch
import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentEngine
import SegmentStore
import SegmentdApp
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("Signed audit checkpoints catch a database owner who rewrites history and recomputes every hash", .timeLimit(.minutes(10)))
struct AuditCheckpointTests {
    static let acme = TenantID("acme")!

    /// A checkpointer over the server's audit trail, writing `<directory>/checkpoints.jsonl`.
    static func checkpointer(_ server: TestServer, directory: String, every: Int64, key: Curve25519.Signing.PrivateKey) -> AuditCheckpointer {
        var configuration = AuditCheckpointer.Configuration(filePath: directory + "/checkpoints.jsonl")
        configuration.every = every
        return AuditCheckpointer(
            trail: server.server.useCases.audit, key: key, configuration: configuration, logger: Logger(label: "test.checkpoints"))
    }

    /// Checks the file against acme's live chain through the API, as segctl does.
    static func verifyOverAPI(
        _ server: TestServer, file: String, trusting key: Curve25519.Signing.PublicKey?
    ) async throws -> AuditCheckpointReport {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        return try await server.connect { connection in
            try await AuditCheckpointVerifier(trustedKey: key).verify(text, chain: acme) { sequence in
                try await connection.auditHash(parent: "tenants/acme", sequence: sequence)
            }
        }
    }

    /// Runs the segctl binary against the in-process server, off the test's own threads
    /// (the server needs them while segctl waits).
    static func segctl(_ server: TestServer, _ arguments: [String]) async throws -> CommandLineTool.Result {
        let environment = ["SEGMENTD_ADDR": "127.0.0.1:\(server.port)", "SEGMENTD_CA": server.caPath, "SEGMENTD_API_KEY": server.ownerKey]
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try CommandLineTool.segctl(arguments, environment: environment) })
            }
        }
    }

    /// Runs `statements` as the database owner in a session scoped to acme.
    static func asOwner(_ server: TestServer, _ statements: [String]) async throws {
        try await server.database.owner.withSingleConnection(logger: Logger(label: "t")) { connection in
            try await connection.query("SELECT set_config('app.tenant_id', 'acme', false)", logger: Logger(label: "t"))
            for statement in statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Logger(label: "t"))
            }
        }
    }

    /// The attack: as the database owner, change entry `sequence`'s outcome, then recompute every
    /// hash of the chain and its head with the database's own hash function, so `verify` passes.
    static func rewriteHistory(_ server: TestServer, sequence: Int64) async throws {
        try await asOwner(
            server,
            [
                "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update",
                "UPDATE audit_events SET result = 'PERMISSION_DENIED' WHERE sequence = \(sequence)",
                """
                DO $$
                DECLARE
                    e record;
                    previous bytea := '\\x\(String(repeating: "00", count: 32))'::bytea;
                BEGIN
                    FOR e IN SELECT * FROM audit_events ORDER BY sequence LOOP
                        UPDATE audit_events
                        SET previous_hash = previous,
                            hash = audit_event_hash(previous, e.tenant_id, e.sequence, e.time, e.actor, e.actor_display, e.action,
                                                    e.resource, e.result, e.request_id, e.peer, e.user_agent, e.before, e.after)
                        WHERE tenant_id = e.tenant_id AND sequence = e.sequence
                        RETURNING hash INTO previous;
                    END LOOP;
                    UPDATE audit_chain_heads SET hash = previous;
                END
                $$
                """,
                "ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update",
            ])
    }

    @Test("a checkpoint at each multiple of N, none twice, resumed from the file after a restart; the file is private and matches the chain")
    func checkpointsAtMultiples() async throws {
        try await TestServer.with { server in
            let directory = try TestEnvironment.temporaryDirectory("sgdckpt")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let key = Curve25519.Signing.PrivateKey()
            for index in 0..<7 { _ = try await server.createKey(roles: ["viewer"], name: "k\(index)") }  // acme's head: 8

            let first = Self.checkpointer(server, directory: directory, every: 3, key: key)
            let written = try await first.checkpoint()
            #expect(written.map(\.sequence) == [3, 6])
            #expect(written.allSatisfy { $0.chain == Self.acme && $0.hasValidSignature })
            #expect(try await first.checkpoint().isEmpty, "nothing new: nothing written")

            for index in 0..<2 { _ = try await server.createKey(roles: ["viewer"], name: "m\(index)") }  // head: 10
            // A new process reads what the file holds and signs only what is missing.
            let restarted = Self.checkpointer(server, directory: directory, every: 3, key: key)
            #expect(try await restarted.checkpoint().map(\.sequence) == [9])

            let file = directory + "/checkpoints.jsonl"
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber
            #expect(mode?.intValue == 0o600)
            let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 3)
            let events = try await AuditLogTests.events(server)
            for line in lines {
                let checkpoint = try AuditCheckpoint(jsonLine: String(line))
                #expect(checkpoint.hash == events.first { $0.sequence == checkpoint.sequence }?.hash)
            }
            let report = try await Self.verifyOverAPI(server, file: file, trusting: key.publicKey)
            #expect(report.ok, "\(String(describing: report.problem))")
            #expect(report.matched == 3)
            #expect(report.latestSequence == 9)
        }
    }

    @Test("a database owner rewrites an entry and recomputes every hash: verify passes, the checkpoints (library and segctl) do not")
    func rewrittenHistoryIsCaught() async throws {
        try await TestServer.with { server in
            let directory = try TestEnvironment.temporaryDirectory("sgdckpt")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let keyPath = directory + "/checkpoint-signing.key"
            let key = try AuditSigningKey.loadOrCreate(at: keyPath)
            let publicKeyPath = AuditSigningKey.publicKeyPath(for: keyPath)
            for index in 0..<7 { _ = try await server.createKey(roles: ["viewer"], name: "k\(index)") }
            try await Self.checkpointer(server, directory: directory, every: 3, key: key).checkpoint()
            let file = directory + "/checkpoints.jsonl"

            let honest = try await Self.segctl(server, ["audit", "verify", "--checkpoints", file, "--public-key", publicKeyPath])
            #expect(honest.status == 0, "\(honest.stdout) \(honest.stderr)")
            #expect(honest.stdout.contains("CHECKPOINTS OK: 2 of tenants/acme match the chain, the latest at sequence 6"), "\(honest.stdout)")

            try await Self.rewriteHistory(server, sequence: 5)
            #expect(
                try await server.database.scalar("SELECT result FROM audit_events WHERE tenant_id = 'acme' AND sequence = 5", as: String.self) == [
                    "PERMISSION_DENIED"
                ])
            // The chain alone cannot tell: every hash was recomputed.
            #expect(try await AuditLogTests.verify(server).ok)

            let report = try await Self.verifyOverAPI(server, file: file, trusting: key.publicKey)
            let problem = try #require(report.problem)
            #expect(problem.kind == .hashMismatch)
            #expect(problem.line == 2)
            #expect(problem.sequence == 6)
            #expect(report.matched == 1, "the checkpoint before the rewritten entry still matches")

            let caught = try await Self.segctl(server, ["audit", "verify", "--checkpoints", file, "--public-key", publicKeyPath])
            #expect(caught.status == 3)
            #expect(caught.stdout.contains("OK: "), "the chain itself verifies")
            #expect(caught.stdout.contains("CHECKPOINT FAILED: hash mismatch at line 2: entry 6 has hash"), "\(caught.stdout)")
            let json = try await Self.segctl(server, ["audit", "verify", "--checkpoints", file, "--json"])
            #expect(json.status == 3)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let checkpoints = try #require(object["checkpoints"] as? [String: Any])
            let detail = try #require(checkpoints["problem"] as? [String: Any])
            #expect(detail["kind"] as? String == "hash mismatch")
            #expect(detail["sequence"] as? Int == 6)
            #expect(checkpoints["key_pinned"] as? Bool == false)
        }
    }

    @Test("a database owner removes the newest entries and rewinds the head: verify passes, the checkpoints report the missing entry")
    func truncatedChainIsCaught() async throws {
        try await TestServer.with { server in
            let directory = try TestEnvironment.temporaryDirectory("sgdckpt")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let key = Curve25519.Signing.PrivateKey()
            for index in 0..<7 { _ = try await server.createKey(roles: ["viewer"], name: "k\(index)") }
            let checkpointer = Self.checkpointer(server, directory: directory, every: 3, key: key)
            try await checkpointer.checkpoint()

            try await Self.asOwner(
                server,
                [
                    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update",
                    "DELETE FROM audit_events WHERE sequence > 5",
                    "UPDATE audit_chain_heads SET sequence = 5, hash = (SELECT hash FROM audit_events WHERE sequence = 5)",
                    "ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update",
                ])
            #expect(try await AuditLogTests.verify(server).ok, "a shorter chain verifies on its own")
            let report = try await Self.verifyOverAPI(server, file: directory + "/checkpoints.jsonl", trusting: key.publicKey)
            #expect(report.problem?.kind == .missingEntry)
            #expect(report.problem?.sequence == 6)
            // The checkpointer sees it too, and signs nothing over the shorter chain.
            #expect(try await checkpointer.checkpoint().isEmpty)
        }
    }
}
