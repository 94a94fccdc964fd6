import Foundation
import GRPCCore
import GRPCProtobuf
import SegmentDomain
import SegmentRules
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("Segments: lifecycle, revisions, references, pause and curation", .timeLimit(.minutes(5)))
struct SegmentLifecycleTests {
    static let parent = "tenants/acme"
    static func name(_ id: String) -> String { "\(parent)/segments/\(id)" }

    static func create(_ connection: SegmentdConnection, _ id: String, _ rule: String, schedule: Segmentd_V1_Schedule? = nil) async throws
        -> Segmentd_V1_Segment
    {
        try await connection.segments.createSegment(
            .with {
                $0.parent = parent
                $0.segmentID = id
                $0.segment = .with { segment in
                    segment.rule = .with { $0.text = rule }
                    if let schedule { segment.schedule = schedule }
                }
            }, metadata: connection.metadata)
    }

    static func code(_ body: () async throws -> Void) async -> (RPCError.Code?, String, String?) {
        do {
            try await body()
            return (nil, "", nil)
        } catch let error as RPCError {
            let reason = try? error.unpackGoogleRPCStatus()?.details.compactMap(\.errorInfo).first?.reason
            return (error.code, error.message, reason)
        } catch {
            return (.unknown, "\(error)", nil)
        }
    }

    @Test("create, get, list, update with etag, revisions, rollback, delete, undelete, duplicate")
    func lifecycle() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = Self.parent
                        $0.events = [.make("u1", "purchase", ["amount": .number(5)])]
                    }, metadata: connection.metadata)
                let created = try await Self.create(connection, "buyers_30d", "did  purchase in last 30 days")
                #expect(created.name == Self.name("buyers_30d"))
                #expect(created.displayName == "buyers_30d")
                #expect(created.rule.text == "did purchase in last 30d")
                #expect(created.rule.description_p == "Users who performed purchase in the last 30 days")
                #expect(created.schedule.daily.timeOfDay == "03:00" && created.schedule.daily.timeZone == "UTC")
                #expect(created.state == .active && created.revision == 1 && created.etag == "1")

                // validate_only saves nothing.
                let dry = try await connection.segments.createSegment(
                    .with {
                        $0.parent = Self.parent
                        $0.segmentID = "dry_run"
                        $0.validateOnly = true
                        $0.segment.rule.text = "has tag vip"
                    }, metadata: connection.metadata)
                #expect(dry.rule.text == "has tag vip")
                #expect(
                    await Self.code {
                        _ = try await connection.segments.getSegment(.with { $0.name = Self.name("dry_run") }, metadata: connection.metadata)
                    }.0 == .notFound)

                // Errors: taken id, bad id, bad rule (with its reason).
                #expect(await Self.code { _ = try await Self.create(connection, "buyers_30d", "has tag vip") }.0 == .alreadyExists)
                #expect(await Self.code { _ = try await Self.create(connection, "Bad-Id", "has tag vip") }.0 == .invalidArgument)
                let mismatch = await Self.code { _ = try await Self.create(connection, "typed", "did purchase where amount = \"x\"") }
                #expect(mismatch.0 == .invalidArgument && mismatch.2 == "TYPE_MISMATCH")
                #expect(await Self.code { _ = try await Self.create(connection, "syntax", "did purchase at least x times") }.2 == "RULE_SYNTAX")

                // Update with the current etag: a new revision naming what changed.
                let updated = try await connection.segments.updateSegment(
                    .with {
                        $0.segment = .with {
                            $0.name = Self.name("buyers_30d")
                            $0.etag = "1"
                            $0.rule.text = "did purchase at least 2 times in last 30d"
                            $0.displayName = "Buyers"
                        }
                        $0.updateMask = .with { $0.paths = ["rule", "display_name"] }
                    }, metadata: connection.metadata)
                #expect(updated.revision == 2 && updated.etag == "2" && updated.displayName == "Buyers")
                // A stale etag is ABORTED and changes nothing.
                let stale = await Self.code {
                    _ = try await connection.segments.updateSegment(
                        .with {
                            $0.segment = .with {
                                $0.name = Self.name("buyers_30d")
                                $0.etag = "1"
                                $0.description_p = "lost update"
                            }
                            $0.updateMask = .with { $0.paths = ["description"] }
                        }, metadata: connection.metadata)
                }
                #expect(stale.0 == .aborted)
                #expect(
                    try await connection.segments.getSegment(.with { $0.name = Self.name("buyers_30d") }, metadata: connection.metadata).description_p
                        == "")

                let revisions = try await connection.segments.listSegmentRevisions(
                    .with { $0.parent = Self.name("buyers_30d") }, metadata: connection.metadata
                ).revisions
                #expect(revisions.map(\.revision) == [2, 1])
                #expect(revisions[0].changedFields == ["display_name", "rule"])
                #expect(revisions[1].snapshot.rule.text == "did purchase in last 30d")
                let one = try await connection.segments.getSegmentRevision(
                    .with { $0.name = Self.name("buyers_30d") + "/revisions/1" }, metadata: connection.metadata)
                #expect(one.snapshot.displayName == "buyers_30d")

                let rolledBack = try await connection.segments.rollbackSegment(
                    .with {
                        $0.name = Self.name("buyers_30d")
                        $0.revision = 1
                    }, metadata: connection.metadata)
                #expect(rolledBack.revision == 3 && rolledBack.rule.text == "did purchase in last 30d" && rolledBack.displayName == "buyers_30d")

                let copy = try await connection.segments.duplicateSegment(
                    .with {
                        $0.name = Self.name("buyers_30d")
                        $0.newSegmentID = "buyers_copy"
                    }, metadata: connection.metadata)
                #expect(copy.rule.text == rolledBack.rule.text && copy.displayName == "Copy of buyers_30d" && copy.revision == 1)

                // Delete hides it from lists; undelete brings it back.
                let deleted = try await connection.segments.deleteSegment(.with { $0.name = Self.name("buyers_copy") }, metadata: connection.metadata)
                #expect(deleted.hasDeleteTime && deleted.hasPurgeTime)
                var listed = try await connection.segments.listSegments(.with { $0.parent = Self.parent }, metadata: connection.metadata).segments
                    .map(\.name)
                #expect(listed == [Self.name("buyers_30d")])
                listed = try await connection.segments.listSegments(
                    .with {
                        $0.parent = Self.parent
                        $0.showDeleted = true
                    }, metadata: connection.metadata
                ).segments.map(\.name)
                #expect(listed == [Self.name("buyers_30d"), Self.name("buyers_copy")])
                _ = try await connection.segments.undeleteSegment(.with { $0.name = Self.name("buyers_copy") }, metadata: connection.metadata)
                let found = try await connection.segments.listSegments(
                    .with {
                        $0.parent = Self.parent
                        $0.query = "COPY"
                    }, metadata: connection.metadata
                ).segments
                #expect(found.map(\.name) == [Self.name("buyers_copy")])

                // Page tokens.
                let first = try await connection.segments.listSegments(
                    .with {
                        $0.parent = Self.parent
                        $0.pageSize = 1
                    }, metadata: connection.metadata)
                let second = try await connection.segments.listSegments(
                    .with {
                        $0.parent = Self.parent
                        $0.pageSize = 1
                        $0.pageToken = first.nextPageToken
                    }, metadata: connection.metadata)
                #expect(first.segments.map(\.name) + second.segments.map(\.name) == [Self.name("buyers_30d"), Self.name("buyers_copy")])
                #expect(second.nextPageToken.isEmpty)
            }
            // Every mutation wrote one audit entry (create ×2 with duplicate, update, rollback, delete, undelete).
            let entries = try await server.database.scalar(
                "SELECT count(*)::int FROM audit_events WHERE resource LIKE 'tenants/acme/segments/%' AND result = 'OK'", as: Int.self)
            #expect(entries == [6])
        }
    }

    @Test("references must exist, cycles are rejected with the cycle named, referenced segments cannot be deleted")
    func references() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                let missing = await Self.code { _ = try await Self.create(connection, "a", "in segment b") }
                #expect(missing.0 == .invalidArgument && missing.1.contains("segment b does not exist"), "\(missing)")
                _ = try await Self.create(connection, "b", "has tag vip")
                _ = try await Self.create(connection, "c", "not in segment b")
                _ = try await Self.create(connection, "a", "in segment c or has tag x")
                // b → a → c → b would close a cycle.
                let cycle = await Self.code {
                    _ = try await connection.segments.updateSegment(
                        .with {
                            $0.segment = .with {
                                $0.name = Self.name("b")
                                $0.rule.text = "in segment a"
                            }
                            $0.updateMask = .with { $0.paths = ["rule"] }
                        }, metadata: connection.metadata)
                }
                #expect(cycle.0 == .invalidArgument)
                #expect(cycle.1.contains("b → a → c → b"), "\(cycle.1)")
                let selfReference = await Self.code { _ = try await Self.create(connection, "d", "in segment d") }
                #expect(selfReference.1.contains("d → d"), "\(selfReference.1)")
                // c is referenced by a.
                let referenced = await Self.code {
                    _ = try await connection.segments.deleteSegment(.with { $0.name = Self.name("c") }, metadata: connection.metadata)
                }
                #expect(referenced.0 == .failedPrecondition && referenced.1.contains("a reference c"), "\(referenced.1)")
            }
        }
    }

    @Test("pause and resume; curators pin in order, others may only read")
    func pauseAndCuration() async throws {
        try await TestServer.with { server in
            let analyst = try await server.createKey(roles: ["analyst"])
            try await server.connect { connection in
                for id in ["vips", "buyers", "openers"] { _ = try await Self.create(connection, id, "has tag vip") }
                let paused = try await connection.segments.pauseSegment(.with { $0.name = Self.name("vips") }, metadata: connection.metadata)
                #expect(paused.state == .paused)
                let onlyPaused = try await connection.segments.listSegments(
                    .with {
                        $0.parent = Self.parent
                        $0.state = .paused
                    }, metadata: connection.metadata)
                #expect(onlyPaused.segments.map(\.name) == [Self.name("vips")])
                #expect(
                    try await connection.segments.resumeSegment(.with { $0.name = Self.name("vips") }, metadata: connection.metadata).state == .active
                )

                _ = try await connection.segments.pinSegment(
                    .with {
                        $0.name = Self.name("openers")
                        $0.category = "engagement"
                        $0.position = 2
                    }, metadata: connection.metadata)
                _ = try await connection.segments.pinSegment(
                    .with {
                        $0.name = Self.name("buyers")
                        $0.category = "engagement"
                        $0.position = 1
                        $0.note = "weekly"
                    }, metadata: connection.metadata)
                _ = try await connection.segments.pinSegment(
                    .with {
                        $0.name = Self.name("vips")
                        $0.category = "at risk"
                    }, metadata: connection.metadata)
                let ready = try await connection.segments.listReadyToUseSegments(.with { $0.parent = Self.parent }, metadata: connection.metadata)
                    .segments
                #expect(ready.map(\.name) == [Self.name("vips"), Self.name("buyers"), Self.name("openers")])
                #expect(ready[1].curation.note == "weekly" && !ready[1].curation.curator.isEmpty)
                let engagement = try await connection.segments.listReadyToUseSegments(
                    .with {
                        $0.parent = Self.parent
                        $0.category = "engagement"
                    }, metadata: connection.metadata)
                #expect(engagement.segments.count == 2)
                let unpinned = try await connection.segments.unpinSegment(.with { $0.name = Self.name("vips") }, metadata: connection.metadata)
                #expect(!unpinned.curation.readyToUse)
                let refresh = try await connection.segments.refreshSegment(.with { $0.name = Self.name("vips") }, metadata: connection.metadata)
                _ = try await connection.operations.cancelOperation(.with { $0.name = refresh.name }, metadata: connection.metadata)
            }
            // One audit entry per mutation, naming the method: 3 creates, pause, resume, 3 pins, unpin, refresh, cancel.
            let actions = try await server.database.scalar(
                """
                SELECT split_part(action, '/', 2) || ' ' || count(*) FROM audit_events
                WHERE result = 'OK' AND (resource LIKE 'tenants/acme/segments/%' OR resource LIKE 'tenants/acme/operations/%')
                GROUP BY split_part(action, '/', 2) ORDER BY 1
                """, as: String.self)
            #expect(
                actions == [
                    "CancelOperation 1", "CreateSegment 3", "PauseSegment 1", "PinSegment 3", "RefreshSegment 1", "ResumeSegment 1", "UnpinSegment 1",
                ])
            // An analyst reads ready-to-use segments but cannot curate or pause.
            let settings = server.settings(apiKey: analyst)
            try await SegmentdConnection.with(settings) { connection in
                let visible = try await connection.segments.listReadyToUseSegments(.with { $0.parent = Self.parent }, metadata: connection.metadata)
                #expect(visible.segments.count == 2)
                #expect(
                    await Self.code {
                        _ = try await connection.segments.pinSegment(.with { $0.name = Self.name("vips") }, metadata: connection.metadata)
                    }.0 == .permissionDenied)
                #expect(
                    await Self.code {
                        _ = try await connection.segments.pauseSegment(.with { $0.name = Self.name("vips") }, metadata: connection.metadata)
                    }.0 == .permissionDenied)
            }
        }
    }

    @Test("explain a saved segment for a user, with whether they were in its last refresh")
    func explainSegment() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = Self.parent
                        $0.events = [.make("u1", "purchase"), .make("u2", "app_open")]
                    }, metadata: connection.metadata)
                _ = try await Self.create(connection, "buyers", "did purchase")
                _ = try await server.database.scalar(
                    "INSERT INTO segment_members (tenant_id, segment_id, user_index) SELECT tenant_id, 'buyers', user_index FROM users WHERE external_id = 'u1' RETURNING 1",
                    as: Int.self)
                let u1 = try await connection.rules.explainMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.segment = Self.name("buyers")
                        $0.userID = "u1"
                    }, metadata: connection.metadata)
                #expect(u1.member && u1.inLastRefresh)
                #expect(u1.root.observed == "purchase count = 1, needed at least 1")
                let u2 = try await connection.rules.explainMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.segment = Self.name("buyers")
                        $0.userID = "u2"
                    }, metadata: connection.metadata)
                #expect(!u2.member && !u2.inLastRefresh)
                #expect(
                    await Self.code {
                        _ = try await connection.rules.explainMembership(
                            .with {
                                $0.parent = Self.parent
                                $0.segment = "tenants/other/segments/buyers"
                                $0.userID = "u1"
                            }, metadata: connection.metadata)
                    }.0 == .notFound)
            }
        }
    }
}
