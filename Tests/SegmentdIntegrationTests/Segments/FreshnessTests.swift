import Foundation
import GRPCCore
import SegmentDomain
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("Freshness: which revision the members follow, stale after a change, the next scheduled refresh", .timeLimit(.minutes(5)))
struct FreshnessTests {
    static let parent = "tenants/acme"
    static func name(_ id: String) -> String { "\(parent)/segments/\(id)" }

    static func get(_ connection: SegmentdConnection, _ id: String) async throws -> Segmentd_V1_Segment {
        try await connection.segments.getSegment(.with { $0.name = Self.name(id) }, metadata: connection.metadata)
    }

    static func seed(_ connection: SegmentdConnection, at now: Date) async throws {
        _ = try await connection.ingestion.ingestEvents(
            .with {
                $0.parent = Self.parent
                $0.events = [.make("u1", "purchase", at: now), .make("u2", "purchase", at: now), .make("u3", "app_open", at: now)]
            }, metadata: connection.metadata)
    }

    static func update(
        _ connection: SegmentdConnection, _ id: String, rule: String? = nil, displayName: String? = nil, schedule: Segmentd_V1_Schedule? = nil,
        refresh: Bool = false
    ) async throws -> Segmentd_V1_Segment {
        try await connection.segments.updateSegment(
            .with {
                $0.refresh = refresh
                $0.segment = .with { segment in
                    segment.name = Self.name(id)
                    if let rule { segment.rule = .with { $0.text = rule } }
                    if let displayName { segment.displayName = displayName }
                    if let schedule { segment.schedule = schedule }
                }
                $0.updateMask = .with {
                    $0.paths = (rule != nil ? ["rule"] : []) + (displayName != nil ? ["display_name"] : []) + (schedule != nil ? ["schedule"] : [])
                }
            }, metadata: connection.metadata)
    }

    static func rollback(_ connection: SegmentdConnection, _ id: String, to revision: Int64, refresh: Bool = false) async throws
        -> Segmentd_V1_Segment
    {
        try await connection.segments.rollbackSegment(
            .with {
                $0.name = Self.name(id)
                $0.revision = revision
                $0.refresh = refresh
            }, metadata: connection.metadata)
    }

    @Test("never refreshed, fresh for revision N, stale after a rule change or a rollback (a new name is not), fresh after a refresh")
    func staleAfterChanges() async throws {
        let clock = ManualWallClock(Date(timeIntervalSince1970: 1_795_617_000))
        try await TestServer.with(configure: { $0.clock = { clock.now() } }) { server in
            try await server.connect { connection in
                try await Self.seed(connection, at: clock.now())
                let created = try await SegmentLifecycleTests.create(connection, "buyers", "did purchase", schedule: .with { $0.manual = true })
                #expect(created.freshness == .neverRefreshed && created.refreshedRevision == 0 && created.definitionRevision == 1)
                #expect(!created.hasNextRefreshTime && created.refreshOperation.isEmpty)

                _ = try await connection.segments.refreshSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                try await server.worker.drain()
                var segment = try await Self.get(connection, "buyers")
                #expect(segment.freshness == .fresh && segment.refreshedRevision == 1 && segment.size == 2)

                // A new display name is a revision, but the members still follow the definition.
                segment = try await Self.update(connection, "buyers", displayName: "Buyers")
                #expect(segment.revision == 2 && segment.freshness == .fresh && segment.refreshedRevision == 1 && segment.definitionRevision == 1)

                // A new rule: the members are the old rule's until a refresh, and the segment says so.
                segment = try await Self.update(connection, "buyers", rule: "did app_open")
                #expect(segment.revision == 3 && segment.freshness == .stale && segment.refreshedRevision == 1 && segment.definitionRevision == 3)
                #expect(segment.size == 2)
                #expect(try await Self.get(connection, "buyers").freshness == .stale)

                _ = try await connection.segments.refreshSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                try await server.worker.drain()
                segment = try await Self.get(connection, "buyers")
                #expect(segment.freshness == .fresh && segment.refreshedRevision == 3 && segment.size == 1)

                // Rolling back to the first rule makes the members stale again.
                segment = try await Self.rollback(connection, "buyers", to: 1)
                #expect(segment.revision == 4 && segment.freshness == .stale && segment.refreshedRevision == 3 && segment.definitionRevision == 4)
                #expect(segment.refreshOperation.isEmpty && segment.size == 1)
                #expect(try await server.database.scalar("SELECT count(*)::int FROM jobs WHERE state = 'queued'", as: Int.self) == [0])

                // Rolling back to the same rule as revision 4 (revision 1's) changes only the names: still stale for revision 4.
                segment = try await Self.rollback(connection, "buyers", to: 2)
                #expect(segment.revision == 5 && segment.freshness == .stale && segment.definitionRevision == 4, "\(segment)")
            }
        }
    }

    @Test("a connector segment is fresh after a push, for the revision it was pushed at; a new name keeps it fresh")
    func connector() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection)
                let created = try await ConnectorTests.createConnector(connection, "crm")
                #expect(created.freshness == .neverRefreshed)
                _ = try await ConnectorTests.add(connection, "crm", "sync-1", ["u0", "u1"])
                var segment = try await Self.get(connection, "crm")
                #expect(segment.freshness == .fresh && segment.refreshedRevision == 1 && segment.size == 2)
                segment = try await Self.update(connection, "crm", displayName: "CRM list")
                #expect(segment.revision == 2 && segment.freshness == .fresh && segment.refreshedRevision == 1)
                _ = try await ConnectorTests.add(connection, "crm", "sync-2", ["u2"])
                segment = try await Self.get(connection, "crm")
                #expect(segment.freshness == .fresh && segment.refreshedRevision == 2 && segment.size == 3)
            }
        }
    }

    @Test("a new scheduled segment, and a changed one, is due at once; the next refresh time is shown, none when manual or paused")
    func dueAtOnce() async throws {
        let clock = ManualWallClock(Date(timeIntervalSince1970: 1_795_617_000))
        try await TestServer.with(configure: { $0.clock = { clock.now() } }) { server in
            try await server.connect { connection in
                try await Self.seed(connection, at: clock.now())
                let start = clock.now()
                let created = try await SegmentLifecycleTests.create(connection, "every6", "did purchase", schedule: .with { $0.everyHours = 6 })
                #expect(created.freshness == .neverRefreshed && created.nextRefreshTime.date == start)
                _ = try await SegmentLifecycleTests.create(connection, "manual", "did purchase", schedule: .with { $0.manual = true })
                #expect(!(try await Self.get(connection, "manual")).hasNextRefreshTime)

                // The scheduler's next pass queues the first refresh without waiting 6 hours.
                #expect(try await server.server.segmentStore.enqueueDueRefreshes() == 1)
                let queued = try await connection.operations.listOperations(
                    .with {
                        $0.parent = Self.parent
                        $0.target = Self.name("every6")
                    }, metadata: connection.metadata
                ).operations
                #expect(queued.map(\.kind) == [.refresh] && queued.first?.state == .queued)
                #expect(try await Self.get(connection, "every6").nextRefreshTime.date == start.addingTimeInterval(6 * 3600))
                clock.advance(by: 60)
                try await server.worker.drain()
                var segment = try await Self.get(connection, "every6")
                #expect(segment.freshness == .fresh && segment.refreshedRevision == 1 && segment.size == 2)
                #expect(segment.nextRefreshTime.date == start.addingTimeInterval(60 + 6 * 3600))
                #expect(try await server.server.segmentStore.enqueueDueRefreshes() == 0)

                // A new rule is due at once too (and stale until then).
                clock.advance(by: 60)
                segment = try await Self.update(connection, "every6", rule: "did app_open")
                #expect(segment.freshness == .stale && segment.nextRefreshTime.date == clock.now())
                #expect(try await server.server.segmentStore.enqueueDueRefreshes() == 1)
                try await server.worker.drain()
                segment = try await Self.get(connection, "every6")
                #expect(segment.freshness == .fresh && segment.refreshedRevision == 2 && segment.size == 1)

                // So is a rollback to another rule.
                segment = try await Self.rollback(connection, "every6", to: 1)
                #expect(segment.freshness == .stale && segment.nextRefreshTime.date == clock.now())

                // A manual segment given a schedule is due at once.
                segment = try await Self.update(connection, "manual", schedule: .with { $0.everyHours = 12 })
                #expect(segment.freshness == .neverRefreshed && segment.nextRefreshTime.date == clock.now())
                #expect(try await server.server.segmentStore.enqueueDueRefreshes() == 2)

                // Paused: no next refresh.
                let paused = try await connection.segments.pauseSegment(.with { $0.name = Self.name("every6") }, metadata: connection.metadata)
                #expect(!paused.hasNextRefreshTime)
            }
        }
    }

    @Test("create, update and rollback with refresh start a refresh operation (shared with RefreshSegment) that completes")
    func refreshWithTheChange() async throws {
        let clock = ManualWallClock(Date(timeIntervalSince1970: 1_795_617_000))
        try await TestServer.with(configure: { $0.clock = { clock.now() } }) { server in
            try await server.connect { connection in
                try await Self.seed(connection, at: clock.now())
                let created = try await connection.segments.createSegment(
                    .with {
                        $0.parent = Self.parent
                        $0.segmentID = "buyers"
                        $0.refresh = true
                        $0.segment = .with {
                            $0.rule = .with { $0.text = "did purchase" }
                            $0.schedule = .with { $0.manual = true }
                        }
                    }, metadata: connection.metadata)
                #expect(created.refreshOperation.hasPrefix(Self.parent + "/operations/") && created.freshness == .neverRefreshed)
                // A refresh asked for meanwhile joins the pending one.
                let joined = try await connection.segments.refreshSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                #expect(joined.name == created.refreshOperation)
                try await server.worker.drain()
                let first = try await connection.operations.getOperation(
                    .with { $0.name = created.refreshOperation }, metadata: connection.metadata)
                #expect(first.state == .succeeded && first.kind == .refresh && first.refresh.size == 2)
                #expect(try await Self.get(connection, "buyers").freshness == .fresh)

                let updated = try await Self.update(connection, "buyers", rule: "did app_open", refresh: true)
                #expect(!updated.refreshOperation.isEmpty && updated.refreshOperation != created.refreshOperation)
                #expect(updated.freshness == .stale)
                try await server.worker.drain()
                let second = try await connection.operations.getOperation(
                    .with { $0.name = updated.refreshOperation }, metadata: connection.metadata)
                #expect(second.state == .succeeded && second.refresh.size == 1)
                var segment = try await Self.get(connection, "buyers")
                #expect(segment.freshness == .fresh && segment.refreshedRevision == 2 && segment.size == 1 && segment.refreshOperation.isEmpty)

                let rolledBack = try await Self.rollback(connection, "buyers", to: 1, refresh: true)
                #expect(rolledBack.revision == 3 && !rolledBack.refreshOperation.isEmpty)
                try await server.worker.drain()
                let waited = try await connection.wait(operation: rolledBack.refreshOperation)
                #expect(waited.state == .succeeded && waited.refresh.size == 2)
                segment = try await Self.get(connection, "buyers")
                #expect(segment.freshness == .fresh && segment.refreshedRevision == 3 && segment.size == 2)

                // A paused segment refuses a refresh with its change, and the change does not happen.
                _ = try await connection.segments.pauseSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                let refused = await SegmentLifecycleTests.code {
                    _ = try await Self.update(connection, "buyers", rule: "did app_open", refresh: true)
                }
                #expect(refused.0 == .failedPrecondition && refused.2 == "SEGMENT_PAUSED", "\(refused)")
                #expect(try await Self.get(connection, "buyers").revision == 3)

                // Refreshing with a change needs what RefreshSegment needs: an editor without segments.refresh
                // may create, but not create and refresh.
                _ = try await connection.access.createRole(
                    .with {
                        $0.parent = Self.parent
                        $0.roleID = "editor_no_refresh"
                        $0.role.permissions = ["segments.read", "segments.write"]
                    }, metadata: connection.metadata)
                let editorKey = try await server.createKey(roles: ["editor_no_refresh"], name: "editor")
                try await server.connect(apiKey: editorKey) { editor in
                    let denied = await SegmentLifecycleTests.code {
                        _ = try await editor.segments.createSegment(
                            .with {
                                $0.parent = Self.parent
                                $0.segmentID = "denied"
                                $0.refresh = true
                                $0.segment = .with { $0.rule = .with { $0.text = "did purchase" } }
                            }, metadata: editor.metadata)
                    }
                    #expect(denied.0 == .permissionDenied && denied.1.contains("segments.refresh"), "\(denied)")
                    _ = try await SegmentLifecycleTests.create(editor, "allowed", "did purchase")
                }
            }
        }
    }
}
