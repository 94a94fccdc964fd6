import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import SwiftProtobuf
import Testing

@Suite("Connector segments: pushed batches, replace sessions, file imports, scheduled pulls", .timeLimit(.minutes(5)))
struct ConnectorTests {
    static let parent = "tenants/acme"
    static func name(_ id: String) -> String { "\(parent)/segments/\(id)" }
    static let code = SegmentLifecycleTests.code

    /// Users u0…u9 exist (profiles).
    static func seedUsers(_ connection: SegmentdConnection, count: Int = 10) async throws {
        _ = try await connection.ingestion.upsertProfiles(
            .with {
                $0.parent = parent
                $0.profiles = (0..<count).map { index in
                    .with {
                        $0.userID = "u\(index)"
                        $0.attributes = ["tier": .string(index < 3 ? "gold" : "silver")]
                    }
                }
            }, metadata: connection.metadata)
    }

    static func createConnector(
        _ connection: SegmentdConnection, _ id: String, source: Segmentd_V1_ConnectorConfig.Source = .push,
        pull: Segmentd_V1_PullSource? = nil
    ) async throws -> Segmentd_V1_Segment {
        try await connection.segments.createSegment(
            .with {
                $0.parent = parent
                $0.segmentID = id
                $0.segment = .with { segment in
                    segment.kind = .connector
                    segment.connector = .with {
                        $0.source = source
                        if let pull { $0.pull = pull }
                    }
                    segment.schedule = .with { $0.manual = true }
                }
            }, metadata: connection.metadata)
    }

    static func members(_ server: TestServer, _ id: String) async throws -> [String] {
        try await server.database.scalar(
            """
            SELECT u.external_id FROM segment_members m JOIN users u USING (tenant_id, user_index)
            WHERE m.segment_id = '\(id)' ORDER BY 1
            """)
    }

    static func add(_ connection: SegmentdConnection, _ id: String, _ sync: String, _ users: [String], remove: Bool = false) async throws
        -> Segmentd_V1_SyncResult
    {
        let request = Segmentd_V1_ChangeMembersRequest.with {
            $0.segment = name(id)
            $0.syncID = sync
            $0.userIds = users
        }
        return remove
            ? try await connection.connectors.removeMembers(request, metadata: connection.metadata)
            : try await connection.connectors.addMembers(request, metadata: connection.metadata)
    }

    @Test("push: add and remove batches; unknown ids counted and sampled; a retried sync id changes nothing; the segment shows both counts")
    func push() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await Self.seedUsers(connection)
                let created = try await Self.createConnector(connection, "crm_vips")
                #expect(created.kind == .connector && created.connector.source == .push && !created.hasRule)

                let first = try await Self.add(connection, "crm_vips", "sync-1", ["u0", "u1", "u2", "ghost-1", "ghost-2", "u1"])
                #expect(first.connectorCount == 5 && first.matchedCount == 3 && first.unmatchedCount == 2)
                #expect(first.unmatchedSample == ["ghost-1", "ghost-2"])
                #expect(first.size == 3 && first.entered == 3 && first.exited == 0)
                #expect(try await Self.members(server, "crm_vips") == ["u0", "u1", "u2"])

                // The same sync id again (a retry) returns the first result and changes nothing.
                let replay = try await Self.add(connection, "crm_vips", "sync-1", ["u5", "u6"])
                #expect(replay == first)
                #expect(try await Self.members(server, "crm_vips") == ["u0", "u1", "u2"])

                let removed = try await Self.add(connection, "crm_vips", "sync-2", ["u1", "ghost-1"], remove: true)
                #expect(removed.size == 2 && removed.exited == 1 && removed.entered == 0 && removed.unmatchedCount == 1)
                #expect(try await Self.members(server, "crm_vips") == ["u0", "u2"])

                let segment = try await connection.segments.getSegment(.with { $0.name = Self.name("crm_vips") }, metadata: connection.metadata)
                #expect(segment.size == 2)
                #expect(segment.lastRefresh.connectorCount == 3 && segment.lastRefresh.matchedCount == 2)  // u0, u2, ghost-2
                #expect(segment.lastRefresh.outcome == "succeeded")

                // A user the connector named before they existed enters on the next refresh.
                _ = try await connection.ingestion.upsertProfiles(
                    .with {
                        $0.parent = Self.parent
                        $0.profiles = [.with { $0.userID = "ghost-2" }]
                    }, metadata: connection.metadata)
                _ = try await connection.segments.refreshSegment(.with { $0.name = Self.name("crm_vips") }, metadata: connection.metadata)
                try await server.worker.drain()
                #expect(try await Self.members(server, "crm_vips") == ["ghost-2", "u0", "u2"])
                let history = try await connection.segments.listSegmentSizeHistory(
                    .with { $0.name = Self.name("crm_vips") }, metadata: connection.metadata)
                #expect(history.points.map(\.size) == [3, 2, 3])

                // Errors: too many ids, no sync id, not a connector, unknown segment; nothing changes.
                let tooMany = await Self.code { _ = try await Self.add(connection, "crm_vips", "big", (0...10_000).map { "x\($0)" }) }
                #expect(tooMany.0 == .resourceExhausted && tooMany.2 == "LIMIT_EXCEEDED")
                #expect(await Self.code { _ = try await Self.add(connection, "crm_vips", "", ["u3"]) }.0 == .invalidArgument)
                #expect(await Self.code { _ = try await Self.add(connection, "crm_vips", "s", [""]) }.0 == .invalidArgument)
                _ = try await SegmentLifecycleTests.create(connection, "rules", "has tag vip", schedule: .with { $0.manual = true })
                #expect(await Self.code { _ = try await Self.add(connection, "rules", "s", ["u3"]) }.0 == .failedPrecondition)
                #expect(await Self.code { _ = try await Self.add(connection, "nope", "s", ["u3"]) }.0 == .notFound)
                // Paused: refused, membership kept.
                _ = try await connection.segments.pauseSegment(.with { $0.name = Self.name("crm_vips") }, metadata: connection.metadata)
                #expect(await Self.code { _ = try await Self.add(connection, "crm_vips", "s3", ["u3"]) }.0 == .failedPrecondition)
                #expect(try await Self.members(server, "crm_vips") == ["ghost-2", "u0", "u2"])
            }
            let audit = try await AuditLogTests.events(server).filter { $0.resource == Self.name("crm_vips") }
            let outcomes = audit.map { "\($0.action.split(separator: "/").last ?? "") \($0.result)" }
            #expect(
                outcomes == [
                    "CreateSegment OK", "AddMembers OK", "AddMembers OK", "RemoveMembers OK", "RefreshSegment OK", "PauseSegment OK",
                    "AddMembers FAILED_PRECONDITION",
                ])
        }
    }

    @Test("replace sessions: staged chunks swap in on commit; repeated chunks ignored; abort and expiry change nothing")
    func replace() async throws {
        let clock = ManualWallClock(Date())
        try await TestServer.with(configure: { $0.clock = clock.now }) { server in
            try await server.connect { connection in
                try await Self.seedUsers(connection)
                _ = try await Self.createConnector(connection, "audience")
                _ = try await Self.add(connection, "audience", "initial", ["u0", "u1", "u2"])

                let session = try await connection.connectors.beginReplace(
                    .with {
                        $0.segment = Self.name("audience")
                        $0.syncID = "full-7"
                    }, metadata: connection.metadata)
                #expect(session.state == "open" && session.staged == 0 && session.name.hasPrefix(Self.name("audience") + "/replaceSessions/"))
                // Beginning again with the same sync id resumes the same session.
                let again = try await connection.connectors.beginReplace(
                    .with {
                        $0.segment = Self.name("audience")
                        $0.syncID = "full-7"
                    }, metadata: connection.metadata)
                #expect(again.name == session.name)

                let staged = try await connection.connectors.streamReplaceChunks(metadata: connection.metadata) { writer in
                    try await writer.write(
                        .with {
                            $0.session = session.name
                            $0.sequence = 0
                            $0.userIds = ["u2", "u3"]
                        })
                    try await writer.write(
                        .with {
                            $0.session = session.name
                            $0.sequence = 1
                            $0.userIds = ["u4", "nobody"]
                        })
                    // A resent chunk (same sequence) is ignored.
                    try await writer.write(
                        .with {
                            $0.session = session.name
                            $0.sequence = 1
                            $0.userIds = ["u9"]
                        })
                }
                #expect(staged.staged == 4)
                // Nothing is visible before the commit.
                #expect(try await Self.members(server, "audience") == ["u0", "u1", "u2"])

                let committed = try await connection.connectors.commitReplace(.with { $0.session = session.name }, metadata: connection.metadata)
                #expect(committed.connectorCount == 4 && committed.matchedCount == 3 && committed.unmatchedSample == ["nobody"])
                #expect(committed.size == 3 && committed.entered == 2 && committed.exited == 2)
                #expect(try await Self.members(server, "audience") == ["u2", "u3", "u4"])
                // Committing twice (a retry) returns the same result.
                #expect(
                    try await connection.connectors.commitReplace(.with { $0.session = session.name }, metadata: connection.metadata) == committed)
                #expect(
                    await Self.code {
                        _ = try await connection.connectors.abortReplace(.with { $0.session = session.name }, metadata: connection.metadata)
                    }.0 == .failedPrecondition)

                // An aborted session changes nothing, and cannot be committed.
                let aborted = try await connection.connectors.beginReplace(
                    .with {
                        $0.segment = Self.name("audience")
                        $0.syncID = "full-8"
                    }, metadata: connection.metadata)
                _ = try await connection.connectors.streamReplaceChunks(metadata: connection.metadata) { writer in
                    try await writer.write(
                        .with {
                            $0.session = aborted.name
                            $0.sequence = 0
                            $0.userIds = ["u7"]
                        })
                }
                #expect(
                    try await connection.connectors.abortReplace(.with { $0.session = aborted.name }, metadata: connection.metadata).state
                        == "aborted")
                #expect(
                    await Self.code {
                        _ = try await connection.connectors.commitReplace(.with { $0.session = aborted.name }, metadata: connection.metadata)
                    }.0 == .failedPrecondition)
                #expect(try await Self.members(server, "audience") == ["u2", "u3", "u4"])

                // An abandoned session expires: its ids are dropped by the sweep and it cannot commit.
                let abandoned = try await connection.connectors.beginReplace(
                    .with {
                        $0.segment = Self.name("audience")
                        $0.syncID = "full-9"
                    }, metadata: connection.metadata)
                _ = try await connection.connectors.streamReplaceChunks(metadata: connection.metadata) { writer in
                    try await writer.write(
                        .with {
                            $0.session = abandoned.name
                            $0.sequence = 0
                            $0.userIds = ["u8"]
                        })
                }
                clock.advance(by: ConnectorStore.sessionLifetime + 1)
                #expect(try await server.server.segmentStore.connectors.abortExpiredSessions() == 1)
                let expired = await Self.code {
                    _ = try await connection.connectors.commitReplace(.with { $0.session = abandoned.name }, metadata: connection.metadata)
                }
                #expect(expired.0 == .failedPrecondition && expired.1.contains("aborted"))
                #expect(try await server.database.scalar("SELECT count(*)::int8 FROM replace_staging", as: Int64.self) == [0])
                #expect(try await Self.members(server, "audience") == ["u2", "u3", "u4"])

                // A session reusing the sync id of an applied batch changes nothing: that sync stands.
                let reused = try await connection.connectors.beginReplace(
                    .with {
                        $0.segment = Self.name("audience")
                        $0.syncID = "initial"
                    }, metadata: connection.metadata)
                _ = try await connection.connectors.streamReplaceChunks(metadata: connection.metadata) { writer in
                    try await writer.write(
                        .with {
                            $0.session = reused.name
                            $0.sequence = 0
                            $0.userIds = ["u9"]
                        })
                }
                let reusedResult = try await connection.connectors.commitReplace(.with { $0.session = reused.name }, metadata: connection.metadata)
                #expect(reusedResult.size == 3 && reusedResult.entered == 3, "the first result of sync 'initial'")
                #expect(try await Self.members(server, "audience") == ["u2", "u3", "u4"])

                // Session names are checked: other tenants' and malformed names are NOT_FOUND / INVALID_ARGUMENT.
                #expect(
                    await Self.code {
                        _ = try await connection.connectors.commitReplace(
                            .with { $0.session = "tenants/other/segments/audience/replaceSessions/1" }, metadata: connection.metadata)
                    }.0 == .notFound)
                #expect(
                    await Self.code {
                        _ = try await connection.connectors.commitReplace(
                            .with { $0.session = "tenants/acme/segments/audience" }, metadata: connection.metadata)
                    }.0 == .invalidArgument)
            }
        }
    }

    static func upload(
        _ connection: SegmentdConnection, _ id: String, _ text: String, format: String = "csv", replace: Bool = false, sync: String,
        pieceSize: Int = 7
    ) async throws -> Segmentd_V1_SyncResult {
        try await connection.connectors.importMembers(metadata: connection.metadata) { writer in
            let bytes = Array(text.utf8)
            var offset = 0
            repeat {
                let end = min(offset + pieceSize, bytes.count)
                try await writer.write(
                    .with {
                        if offset == 0 {
                            $0.segment = name(id)
                            $0.format = format
                            $0.replace = replace
                            $0.syncID = sync
                        }
                        $0.data = Data(bytes[offset..<end])
                    })
                offset = end
            } while offset < bytes.count
        }
    }

    @Test("file import: CSV with a header or one id per line, NDJSON; append or replace; a bad line changes nothing and names the line")
    func fileImport() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await Self.seedUsers(connection)
                _ = try await Self.createConnector(connection, "uploaded", source: .file)

                let csv = "email,user_id\r\na@x.com,u0\n\"b,c@x.com\",\"u1\"\n\nz@x.com,stranger\n"
                let first = try await Self.upload(connection, "uploaded", csv, sync: "file-1")
                #expect(first.connectorCount == 3 && first.matchedCount == 2 && first.unmatchedSample == ["stranger"] && first.size == 2)

                let plain = try await Self.upload(connection, "uploaded", "u2\nu3", sync: "file-2")
                #expect(plain.size == 4 && plain.entered == 2)

                let ndjson = "{\"user_id\": \"u5\"}\n{\"user_id\": \"u6\", \"score\": 3}\n"
                let replaced = try await Self.upload(connection, "uploaded", ndjson, format: "ndjson", replace: true, sync: "file-3")
                #expect(replaced.size == 2 && replaced.exited == 4 && replaced.entered == 2)
                #expect(try await Self.members(server, "uploaded") == ["u5", "u6"])

                // The same sync id again: the first result, nothing changed.
                #expect(try await Self.upload(connection, "uploaded", "u9\n", sync: "file-2") == plain)
                #expect(try await Self.members(server, "uploaded") == ["u5", "u6"])

                for (text, format, expected) in [
                    ("u7\n{\"user_id\": 1}\n", "ndjson", "line 1: not a JSON object"),
                    ("{\"user_id\": true}\n", "ndjson", "line 1: user_id is not a string"),
                    ("{\"other\": \"x\"}\n", "ndjson", "line 1: no user_id field"),
                    ("u7\n\"unclosed\n", "csv", "line 2: an unclosed quote"),
                    ("a,b\nu7,u8\n", "csv", "line 1: 2 columns and no user_id header"),
                ] {
                    let failure = await Self.code {
                        _ = try await Self.upload(connection, "uploaded", text, format: format, replace: true, sync: "bad-\(expected.hashValue)")
                    }
                    #expect(failure.0 == .invalidArgument, "\(text)")
                    #expect(failure.1.contains(expected), "\(failure.1)")
                }
                #expect(try await Self.members(server, "uploaded") == ["u5", "u6"])
                #expect(try await server.database.scalar("SELECT count(*)::int8 FROM replace_staging", as: Int64.self) == [0])
                #expect(await Self.code { _ = try await Self.upload(connection, "uploaded", "u1\n", format: "xml", sync: "x") }.0 == .invalidArgument)
            }
        }
    }

    @Test("connector segments work everywhere: rule references, inspect, export, membership checks, curation")
    func everywhere() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await Self.seedUsers(connection)
                _ = try await Self.createConnector(connection, "synced")
                _ = try await Self.add(connection, "synced", "s1", ["u0", "u1", "u5"])
                _ = try await SegmentLifecycleTests.create(
                    connection, "gold_synced", "in segment synced and profile.tier = \"gold\"", schedule: .with { $0.manual = true })
                _ = try await connection.segments.refreshSegment(.with { $0.name = Self.name("gold_synced") }, metadata: connection.metadata)
                try await server.worker.drain()
                #expect(try await Self.members(server, "gold_synced") == ["u0", "u1"])

                let check = try await connection.membership.checkMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.userID = "u5"
                        $0.segments = [Self.name("synced"), Self.name("gold_synced")]
                    }, metadata: connection.metadata)
                #expect(check.results.map(\.member) == [true, false])
                let inspection = try await connection.segments.inspectSegment(
                    .with {
                        $0.name = Self.name("synced")
                        $0.breakdownAttribute = "tier"
                    }, metadata: connection.metadata)
                #expect(inspection.count == 3 && inspection.breakdown.map { "\($0.value)=\($0.count)" } == ["gold=2", "silver=1"])
                let pinned = try await connection.segments.pinSegment(
                    .with {
                        $0.name = Self.name("synced")
                        $0.category = "CRM"
                    }, metadata: connection.metadata)
                #expect(pinned.curation.readyToUse && pinned.kind == .connector)

                let operation = try await connection.segments.exportSegment(.with { $0.name = Self.name("synced") }, metadata: connection.metadata)
                try await server.worker.drain()
                let done = try await connection.operations.getOperation(.with { $0.name = operation.name }, metadata: connection.metadata)
                #expect(done.state == .succeeded && done.export.rows == 3)

                // Deleting a referenced connector is refused like any referenced segment.
                #expect(
                    await Self.code {
                        _ = try await connection.segments.deleteSegment(.with { $0.name = Self.name("synced") }, metadata: connection.metadata)
                    }.0 == .failedPrecondition)
            }
        }
    }

    @Test("permissions: connectors.manage pushes; an analyst may read but not push")
    func permissions() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await Self.seedUsers(connection)
                _ = try await Self.createConnector(connection, "crm")
            }
            let analyst = try await server.createKey(roles: ["analyst"])
            try await server.connect(apiKey: analyst) { connection in
                #expect(await Self.code { _ = try await Self.add(connection, "crm", "s", ["u1"]) }.0 == .permissionDenied)
                let read = try await connection.segments.getSegment(.with { $0.name = Self.name("crm") }, metadata: connection.metadata)
                #expect(read.kind == .connector)
            }
        }
    }
}
