import Foundation
import GRPCCore
import SegmentDomain
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("Audit entries people can read: old and new values, the key's name, a refused call's target, --actor by name", .timeLimit(.minutes(5)))
struct AuditReadabilityTests {
    static func events(_ server: TestServer, actor: String = "") async throws -> [Segmentd_V1_AuditEvent] {
        try await server.connect { connection in
            try await connection.audit.listAuditEvents(
                .with {
                    $0.parent = "tenants/acme"
                    $0.ascending = true
                    $0.pageSize = 1000
                    $0.actor = actor
                }, metadata: connection.metadata
            ).auditEvents
        }
    }

    static func createSegment(_ connection: SegmentdConnection, _ id: String) async throws {
        _ = try await connection.segments.createSegment(
            .with {
                $0.parent = "tenants/acme"
                $0.segmentID = id
                $0.segment = .with { segment in
                    segment.displayName = id
                    segment.rule = .with { $0.text = "has tag vip" }
                    segment.schedule = .with { $0.manual = true }
                }
            }, metadata: connection.metadata)
    }

    @Test("an update records the fields before and after, the schedule as an object, and the chain still verifies")
    func scheduleIsStructured() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await Self.createSegment(connection, "vip")
                _ = try await connection.segments.updateSegment(
                    .with {
                        $0.updateMask = .with { $0.paths = ["display_name", "schedule"] }
                        $0.segment = .with { segment in
                            segment.name = "tenants/acme/segments/vip"
                            segment.displayName = "VIP buyers"
                            segment.schedule = .with { $0.everyHours = 6 }
                        }
                    }, metadata: connection.metadata)
            }
            let update = try #require(try await Self.events(server).last { $0.action == "segmentd.v1.SegmentService/UpdateSegment" })
            #expect(update.before.fields["display_name"]?.stringValue == "vip")
            #expect(update.after.fields["display_name"]?.stringValue == "VIP buyers")
            let before = try #require(update.before.fields["schedule"])
            let after = try #require(update.after.fields["schedule"])
            guard case .structValue(let old) = before.kind, case .structValue(let new) = after.kind else {
                Issue.record("the schedule is not an object: \(before) → \(after)")
                return
            }
            #expect(old.fields["cadence"]?.stringValue == "manual")
            #expect(new.fields["cadence"]?.stringValue == "every_hours")
            #expect(new.fields["hours"]?.numberValue == 6)
            #expect(new.fields["after_dependencies"]?.boolValue == false)

            // The stored text is a JSON object too, not JSON inside a string.
            let stored = try await server.database.scalar(
                "SELECT jsonb_typeof(after -> 'schedule') FROM audit_events WHERE tenant_id = 'acme' AND action LIKE '%/UpdateSegment'",
                as: String.self)
            #expect(stored == ["object"])
            #expect(try await AuditLogTests.verify(server).ok)
        }
    }

    @Test("an entry written before (its schedule JSON text in a string) still verifies and lists beside new ones")
    func olderEntriesStillVerify() async throws {
        try await TestServer.with { server in
            try await MigrationTests.withDatabase(server.database.app) { app in
                try await AuditLog(database: app).append(
                    AuditEntry(
                        actor: .system, action: "segmentd.v1.SegmentService/UpdateSegment", resource: "tenants/acme/segments/legacy",
                        result: "OK", before: ["schedule": .string(#"{"after_dependencies":false,"cadence":"manual"}"#)],
                        after: ["schedule": .string(#"{"after_dependencies":false,"cadence":"every_hours","hours":6}"#)]),
                    tenant: TenantID("acme")!)
            }
            try await server.connect { connection in try await Self.createSegment(connection, "fresh") }
            let events = try await Self.events(server)
            let legacy = try #require(events.first { $0.resource == "tenants/acme/segments/legacy" })
            #expect(legacy.before.fields["schedule"]?.stringValue.contains("manual") == true)
            let fresh = try #require(events.first { $0.resource == "tenants/acme/segments/fresh" })
            #expect(fresh.after.fields["schedule"]?.structValue.fields["cadence"]?.stringValue == "manual")
            let verified = try await AuditLogTests.verify(server)
            #expect(verified.ok, "\(verified.problem) at \(verified.firstBadSequence)")
        }
    }

    @Test("a refused call's entry names the resource it was aimed at: a name, a parent, or the name inside the resource sent")
    func refusedCallsNameTheirTarget() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in try await Self.createSegment(connection, "vip") }
            let viewer = try await server.createKey(roles: ["viewer"], name: "dashboard")
            try await server.connect(apiKey: viewer) { connection in
                await #expect(throws: RPCError.self) {
                    _ = try await connection.segments.updateSegment(
                        .with {
                            $0.updateMask = .with { $0.paths = ["display_name"] }
                            $0.segment = .with {
                                $0.name = "tenants/acme/segments/vip"
                                $0.displayName = "mine now"
                            }
                        }, metadata: connection.metadata)
                }
                await #expect(throws: RPCError.self) {
                    _ = try await connection.segments.deleteSegment(.with { $0.name = "tenants/acme/segments/vip" }, metadata: connection.metadata)
                }
                await #expect(throws: RPCError.self) {
                    _ = try await connection.access.listApiKeys(.with { $0.parent = "tenants/acme" }, metadata: connection.metadata)
                }
            }
            let denied = try await Self.events(server).filter { $0.result == "PERMISSION_DENIED" }
            #expect(
                denied.map { [$0.action, $0.resource] } == [
                    ["segmentd.v1.SegmentService/UpdateSegment", "tenants/acme/segments/vip"],
                    ["segmentd.v1.SegmentService/DeleteSegment", "tenants/acme/segments/vip"],
                    ["segmentd.v1.AccessService/ListApiKeys", "tenants/acme"],
                ])
            #expect(denied.allSatisfy { $0.actorKeyDisplayName == "dashboard" })
            #expect(try await AuditLogTests.verify(server).ok)
        }
    }

    @Test("entries carry their key's name; actor filters match a key's name (any case), id or prefix; a name no key has is NOT_FOUND")
    func actorByKeyName() async throws {
        try await TestServer.with { server in
            let deployer = try await server.createKey(roles: ["editor"], name: "ci-deployer")
            try await server.connect(apiKey: deployer) { connection in try await Self.createSegment(connection, "vip") }
            try await server.connect { connection in try await Self.createSegment(connection, "owned") }

            let all = try await Self.events(server)
            let created = try #require(all.first { $0.resource == "tenants/acme/segments/vip" })
            #expect(created.actorKeyDisplayName == "ci-deployer")
            #expect(deployer.hasPrefix(created.actor.display))
            let keyID = try #require(created.actor.name.split(separator: "/").last.map(String.init))

            for filter in ["ci-deployer", "CI-Deployer", keyID, created.actor.display, created.actor.name] {
                let events = try await Self.events(server, actor: filter)
                #expect(events.map(\.resource) == ["tenants/acme/segments/vip"], "--actor \(filter)")
            }
            // An actor name that has no entries is an empty list, as before.
            #expect(try await Self.events(server, actor: "jobs/999").isEmpty)
            #expect(try await Self.events(server, actor: "system").contains { $0.actor.name == "system" })

            let error = await #expect(throws: ClientError.self) { try await Self.events(server, actor: "nobody") }
            #expect(error?.code == .notFound)
            #expect(error?.message.contains("no API key is named 'nobody'") == true, "\(error?.message ?? "")")
        }
    }
}
