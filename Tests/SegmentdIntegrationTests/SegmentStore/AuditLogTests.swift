import Foundation
import GRPCCore
import Logging
import PostgresNIO
import SegmentDomain
import SegmentEngine
import SegmentServer
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("The audit log: one entry per change, in its transaction, hash-chained, append-only", .timeLimit(.minutes(5)))
struct AuditLogTests {
    let logger = Logger(label: "test.audit")

    static func events(_ server: TestServer, pageSize: Int32 = 1000) async throws -> [Segmentd_V1_AuditEvent] {
        try await server.connect { connection in
            var events: [Segmentd_V1_AuditEvent] = []
            var token = ""
            repeat {
                let page = try await connection.audit.listAuditEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.ascending = true
                        $0.pageSize = pageSize
                        $0.pageToken = token
                    },
                    metadata: connection.metadata)
                events += page.auditEvents
                token = page.nextPageToken
            } while !token.isEmpty
            return events
        }
    }

    static func verify(_ server: TestServer) async throws -> Segmentd_V1_VerifyAuditChainResponse {
        try await server.connect { connection in
            try await connection.audit.verifyAuditChain(.with { $0.parent = "tenants/acme" }, metadata: connection.metadata)
        }
    }

    @Test("200 concurrent mutations get sequence numbers without gaps, and the chain verifies")
    func concurrentAppends() async throws {
        try await TestServer.with(poolSize: 20) { server in
            try await server.connect { connection in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<200 {
                        group.addTask {
                            _ = try await connection.access.createRole(
                                .with {
                                    $0.parent = "tenants/acme"
                                    $0.roleID = "role_\(index)"
                                    $0.role.permissions = ["segments.read"]
                                },
                                metadata: connection.metadata)
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let events = try await Self.events(server, pageSize: 77)
            #expect(events.map(\.sequence) == Array(1...201))  // 1 is the bootstrap
            #expect(events.filter { $0.action == "segmentd.v1.AccessService/CreateRole" && $0.result == "OK" }.count == 200)
            #expect(Set(events.map(\.resource)).count == 201)
            for (previous, event) in zip(events, events.dropFirst()) { #expect(event.previousHash == previous.hash) }
            let verified = try await Self.verify(server)
            #expect(verified.ok)
            #expect(verified.checked == 201)
        }
    }

    @Test("an entry records actor, action, resource, result, request id, peer, user agent and the change, never a secret")
    func entryContents() async throws {
        try await TestServer.with { server in
            let created = try await server.connect { connection in
                var metadata = connection.metadata
                metadata.addString("req-123", forKey: "x-request-id")
                return try await connection.access.createApiKey(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.apiKey.displayName = "ci"
                        $0.apiKey.roles = ["viewer"]
                    },
                    metadata: metadata)
            }
            let events = try await Self.events(server)
            let entry = try #require(events.last)
            #expect(entry.action == "segmentd.v1.AccessService/CreateApiKey")
            #expect(entry.resource == created.apiKey.name)
            #expect(entry.result == "OK")
            #expect(entry.requestID == "req-123")
            #expect(entry.peer.contains("127.0.0.1"))
            #expect(entry.userAgent.contains("segctl/"))
            #expect(entry.actor.name.hasPrefix("tenants/acme/apiKeys/"))
            #expect(server.ownerKey.hasPrefix(entry.actor.display))
            #expect(entry.after.fields["roles"]?.listValue.values.first?.stringValue == "viewer")
            let text = try entry.jsonString()
            #expect(!text.contains(created.secret))
            #expect(!text.contains(server.ownerKey))
        }
    }

    @Test("denied and unauthenticated calls are audited once each; a failed change is audited with its code")
    func refusalsAndFailures() async throws {
        try await TestServer.with { server in
            let viewer = try await server.createKey(roles: ["viewer"])
            try await server.connect(apiKey: viewer) { connection in
                let denied = try await RawCall.unary(connection, Segmentd_V1_AccessService.Method.ListApiKeys.descriptor, apiKey: viewer)
                #expect(denied.code == .permissionDenied)
            }
            try await server.connect { connection in
                let duplicate: [UInt8] = try Segmentd_V1_CreateRoleRequest.with {
                    $0.parent = "tenants/acme"
                    $0.roleID = "dup"
                    $0.role.permissions = ["segments.read"]
                }.serializedBytes()
                #expect(
                    try await RawCall.unary(
                        connection, Segmentd_V1_AccessService.Method.CreateRole.descriptor, message: duplicate, apiKey: server.ownerKey
                    ).code == nil)
                #expect(
                    try await RawCall.unary(
                        connection, Segmentd_V1_AccessService.Method.CreateRole.descriptor, message: duplicate, apiKey: server.ownerKey
                    ).code == .alreadyExists)
                #expect(
                    try await RawCall.unary(connection, Segmentd_V1_AccessService.Method.ListApiKeys.descriptor, apiKey: "sgd_live_nonsense").code
                        == .unauthenticated)
            }
            let events = try await Self.events(server)
            let denied = events.filter { $0.result == "PERMISSION_DENIED" }
            #expect(denied.count == 1)
            #expect(denied.first?.action == "segmentd.v1.AccessService/ListApiKeys")
            #expect(denied.first?.after.fields["missing_permission"]?.stringValue == "keys.manage")
            let roleEntries = events.filter { $0.resource == "tenants/acme/roles/dup" }
            #expect(roleEntries.map(\.result) == ["OK", "ALREADY_EXISTS"])
            // Reads are not audited; a call with a key nobody issued is not audited anywhere (logs and a metric).
            #expect(!events.contains { $0.result == "UNAUTHENTICATED" })
            let unauthenticated = try await server.database.superuser.withSingleConnection(logger: logger) { connection in
                var count = 0
                for try await value in try await connection.query(
                    "SELECT count(*)::int FROM audit_events WHERE tenant_id = 'platform' AND result = 'UNAUTHENTICATED' AND actor = 'anonymous'",
                    logger: Logger(label: "t")
                ).decode(Int.self) { count = value }
                return count
            }
            #expect(unauthenticated == 0)
        }
    }

    /// Audit rows in every chain (as the superuser).
    static func auditRows(_ server: TestServer) async throws -> Int {
        try await server.database.scalar("SELECT count(*)::int FROM audit_events", as: Int.self).first ?? -1
    }

    @Test("a flood of calls without a key, with malformed or unknown keys writes nothing to the audit log; a revoked key's call is audited")
    func anonymousFlood() async throws {
        try await TestServer.with(configure: { $0.authentication.cacheTTL = .zero }) { server in
            try await server.connect { connection in
                let before = try await Self.auditRows(server)
                let keys: [String?] = [nil, "sgd_live_nonsense", "not-a-key-at-all"]
                for index in 0..<600 {
                    let outcome = try await RawCall.unary(
                        connection, Segmentd_V1_AccessService.Method.ListApiKeys.descriptor, apiKey: keys[index % keys.count])
                    #expect(outcome.code == .unauthenticated)
                }
                #expect(try await Self.auditRows(server) == before, "600 rejected calls added audit rows")

                // A key the tenant issued and then revoked is still audited when used.
                let created = try await connection.access.createApiKey(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.apiKey.displayName = "leaked"
                        $0.apiKey.roles = ["viewer"]
                    }, metadata: connection.metadata)
                _ = try await connection.access.revokeApiKey(.with { $0.name = created.apiKey.name }, metadata: connection.metadata)
                let afterRevoke = try await Self.auditRows(server)
                let outcome = try await RawCall.unary(connection, Segmentd_V1_AccessService.Method.ListApiKeys.descriptor, apiKey: created.secret)
                #expect(outcome.code == .unauthenticated)
                #expect(try await Self.auditRows(server) == afterRevoke + 1)
            }
        }
    }

    @Test("a failure injected into the audit insert rolls the change back; a rolled-back change leaves no OK entry")
    func auditFailureRollsBack() async throws {
        try await TestServer.with { server in
            try await server.database.superuser.withSingleConnection(logger: logger) { connection in
                try await connection.query(
                    """
                    CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        IF NEW.resource = 'tenants/acme/roles/doomed' THEN RAISE EXCEPTION 'injected audit failure'; END IF;
                        RETURN NEW;
                    END $$
                    """, logger: Logger(label: "t"))
                try await connection.query(
                    "CREATE TRIGGER zz_fail_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION fail_audit()",
                    logger: Logger(label: "t"))
            }
            try await server.connect { connection in
                let outcome = try await RawCall.unary(
                    connection, Segmentd_V1_AccessService.Method.CreateRole.descriptor,
                    message: try Segmentd_V1_CreateRoleRequest.with {
                        $0.parent = "tenants/acme"
                        $0.roleID = "doomed"
                        $0.role.permissions = ["segments.read"]
                    }.serializedBytes(), apiKey: server.ownerKey)
                #expect(outcome.code == .internalError)
                let role = try await RawCall.unary(
                    connection, Segmentd_V1_AccessService.Method.GetRole.descriptor,
                    message: try Segmentd_V1_GetRoleRequest.with { $0.name = "tenants/acme/roles/doomed" }.serializedBytes(),
                    apiKey: server.ownerKey)
                #expect(role.code == .notFound, "the change was rolled back with its audit entry")
            }
            let events = try await Self.events(server)
            #expect(!events.contains { $0.resource == "tenants/acme/roles/doomed" })
            #expect(try await Self.verify(server).ok)
        }
    }

    @Test("the log is append-only: the server role cannot update or delete, and triggers refuse even the owner")
    func appendOnly() async throws {
        try await TestServer.with { server in
            let attempts: [(DatabaseSettings, String)] = [
                (server.database.app, "UPDATE audit_events SET result = 'OK'"),
                (server.database.app, "DELETE FROM audit_events"),
                (server.database.owner, "UPDATE audit_events SET result = 'OK'"),
                (server.database.owner, "DELETE FROM audit_events"),
                (server.database.owner, "TRUNCATE audit_events"),
            ]
            for (settings, sql) in attempts {
                await #expect(throws: (any Error).self, "\(settings.username): \(sql)") {
                    try await settings.withSingleConnection(logger: logger) { connection in
                        try await connection.query("SELECT set_config('app.tenant_id', 'acme', false)", logger: Logger(label: "t"))
                        try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "t"))
                    }
                }
            }
            let intact = try await Self.verify(server)
            #expect(intact.ok)
        }
    }

    @Test("verify finds an edited entry, a deleted middle entry and a deleted last entry")
    func tamperDetection() async throws {
        try await TestServer.with { server in
            for index in 0..<6 { _ = try await server.createKey(roles: ["viewer"], name: "k\(index)") }
            #expect(try await Self.verify(server).ok)
            func sabotage(_ sql: String) async throws {
                try await server.database.superuser.withSingleConnection(logger: logger) { connection in
                    try await connection.query("ALTER TABLE audit_events DISABLE TRIGGER USER", logger: Logger(label: "t"))
                    try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "t"))
                    try await connection.query("ALTER TABLE audit_events ENABLE TRIGGER USER", logger: Logger(label: "t"))
                }
            }
            try await sabotage("UPDATE audit_events SET result = 'PERMISSION_DENIED' WHERE tenant_id = 'acme' AND sequence = 3")
            var result = try await Self.verify(server)
            #expect(!result.ok)
            #expect(result.firstBadSequence == 3)
            #expect(result.problem == "hash mismatch")

            try await sabotage("UPDATE audit_events SET result = 'OK' WHERE tenant_id = 'acme' AND sequence = 3")
            #expect(try await Self.verify(server).ok)

            try await sabotage("DELETE FROM audit_events WHERE tenant_id = 'acme' AND sequence = 4")
            result = try await Self.verify(server)
            #expect(!result.ok)
            #expect(result.firstBadSequence == 5)
            #expect(result.problem == "gap")

            try await sabotage("DELETE FROM audit_events WHERE tenant_id = 'acme' AND sequence < 7")
            try await sabotage("DELETE FROM audit_events WHERE tenant_id = 'acme' AND sequence = 7")
            result = try await Self.verify(server)
            #expect(!result.ok)
            #expect(result.problem == "gap")
        }
    }

    @Test("list filters by actor, action prefix, resource and time, and pages")
    func filters() async throws {
        try await TestServer.with { server in
            _ = try await server.createKey(roles: ["viewer"], name: "a")
            try await server.connect { connection in
                _ = try await connection.access.createRole(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.roleID = "r1"
                        $0.role.permissions = ["segments.read"]
                    },
                    metadata: connection.metadata)
                let byAction = try await connection.audit.listAuditEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.action = "segmentd.v1.AccessService/Create*"
                    }, metadata: connection.metadata)
                #expect(byAction.auditEvents.map(\.action) == ["segmentd.v1.AccessService/CreateRole", "segmentd.v1.AccessService/CreateApiKey"])
                let byResource = try await connection.audit.listAuditEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.resource = "tenants/acme/roles/r1"
                    }, metadata: connection.metadata)
                #expect(byResource.auditEvents.count == 1)
                let bySystem = try await connection.audit.listAuditEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.actor = "system"
                    }, metadata: connection.metadata)
                #expect(bySystem.auditEvents.map(\.action) == ["bootstrap"])
                let future = try await connection.audit.listAuditEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.startTime = .init(date: Date().addingTimeInterval(3600))
                    },
                    metadata: connection.metadata)
                #expect(future.auditEvents.isEmpty)
                let tail = try await connection.audit.listAuditEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.afterSequence = 2
                        $0.ascending = true
                    }, metadata: connection.metadata)
                #expect(tail.auditEvents.map(\.sequence) == [3])
                let wildcardLiteral = try await connection.audit.listAuditEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.action = "%"
                    }, metadata: connection.metadata)
                #expect(wildcardLiteral.auditEvents.isEmpty, "% is matched literally, not as a LIKE wildcard")
            }
        }
    }
}
