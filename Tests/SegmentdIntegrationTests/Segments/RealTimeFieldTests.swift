import Foundation
import GRPCCore
import GRPCProtobuf
import SegmentDomain
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("Segments: the real_time field through create, update, revisions, rollback and the audit log", .timeLimit(.minutes(5)))
struct RealTimeFieldTests {
    static let parent = "tenants/acme"
    static func name(_ id: String) -> String { "\(parent)/segments/\(id)" }

    /// The call's status code and the fields its BadRequest detail names.
    static func violations(_ body: () async throws -> Void) async -> (RPCError.Code?, [String]) {
        do {
            try await body()
            return (nil, [])
        } catch let error as RPCError {
            let fields = (try? error.unpackGoogleRPCStatus())?.details.compactMap(\.badRequest).flatMap(\.violations).map(\.field) ?? []
            return (error.code, fields)
        } catch {
            return (.unknown, ["\(error)"])
        }
    }

    @Test(
        "created real-time, shown by get and list; update_mask real_time turns it off as a new revision (not a definition change), audited; rollback restores it"
    )
    func lifecycle() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                let created = try await connection.segments.createSegment(
                    .with {
                        $0.parent = Self.parent
                        $0.segmentID = "vips_now"
                        $0.segment = .with {
                            $0.rule.text = "has tag vip"
                            $0.schedule = .with { $0.manual = true }
                            $0.realTime = true
                        }
                    }, metadata: connection.metadata)
                #expect(created.realTime && created.revision == 1)
                let got = try await connection.segments.getSegment(.with { $0.name = Self.name("vips_now") }, metadata: connection.metadata)
                #expect(got.realTime)
                let listed = try await connection.segments.listSegments(.with { $0.parent = Self.parent }, metadata: connection.metadata).segments
                #expect(listed.map(\.realTime) == [true])

                // validate_only answers with the field too.
                let draft = try await connection.segments.createSegment(
                    .with {
                        $0.parent = Self.parent
                        $0.segmentID = "draft_rt"
                        $0.validateOnly = true
                        $0.segment = .with {
                            $0.rule.text = "has tag vip"
                            $0.realTime = true
                        }
                    }, metadata: connection.metadata)
                #expect(draft.realTime)

                // Off through the update mask: a new revision, and the members' definition is unchanged.
                let off = try await connection.segments.updateSegment(
                    .with {
                        $0.segment = .with {
                            $0.name = Self.name("vips_now")
                            $0.etag = created.etag
                            $0.realTime = false
                        }
                        $0.updateMask = .with { $0.paths = ["real_time"] }
                    }, metadata: connection.metadata)
                #expect(!off.realTime && off.revision == 2)
                #expect(off.definitionRevision == created.definitionRevision)
                #expect(off.rule.text == "has tag vip")
                #expect(
                    !(try await connection.segments.getSegment(.with { $0.name = Self.name("vips_now") }, metadata: connection.metadata).realTime))

                // Another field's update leaves it alone (real_time false in the message, not in the mask).
                let on = try await connection.segments.updateSegment(
                    .with {
                        $0.segment = .with {
                            $0.name = Self.name("vips_now")
                            $0.realTime = true
                        }
                        $0.updateMask = .with { $0.paths = ["real_time"] }
                    }, metadata: connection.metadata)
                #expect(on.realTime && on.revision == 3)
                let renamed = try await connection.segments.updateSegment(
                    .with {
                        $0.segment = .with {
                            $0.name = Self.name("vips_now")
                            $0.displayName = "VIPs now"
                        }
                        $0.updateMask = .with { $0.paths = ["display_name"] }
                    }, metadata: connection.metadata)
                #expect(renamed.realTime && renamed.revision == 4)

                let revisions = try await connection.segments.listSegmentRevisions(
                    .with { $0.parent = Self.name("vips_now") }, metadata: connection.metadata
                ).revisions
                #expect(revisions.map(\.revision) == [4, 3, 2, 1])
                #expect(
                    revisions.map(\.changedFields) == [
                        ["display_name"], ["real_time"], ["real_time"], ["display_name", "description", "rule", "schedule", "real_time"],
                    ])
                #expect(revisions.map(\.snapshot.realTime) == [true, true, false, true])

                // Rolling back to revision 2 turns it off again; back to 1 turns it on.
                let rolledBack = try await connection.segments.rollbackSegment(
                    .with {
                        $0.name = Self.name("vips_now")
                        $0.revision = 2
                    }, metadata: connection.metadata)
                #expect(!rolledBack.realTime && rolledBack.revision == 5 && rolledBack.displayName == "vips_now")
                #expect(rolledBack.definitionRevision == created.definitionRevision)
                let restored = try await connection.segments.rollbackSegment(
                    .with {
                        $0.name = Self.name("vips_now")
                        $0.revision = 1
                    }, metadata: connection.metadata)
                #expect(restored.realTime && restored.revision == 6)

                // A copy keeps it.
                let copy = try await connection.segments.duplicateSegment(
                    .with {
                        $0.name = Self.name("vips_now")
                        $0.newSegmentID = "vips_copy"
                    }, metadata: connection.metadata)
                #expect(copy.realTime)
            }
            // The first update's entry records the change.
            let audited = try await server.database.scalar(
                """
                SELECT (before ->> 'real_time') || ' -> ' || (after ->> 'real_time') FROM audit_events
                WHERE tenant_id = 'acme' AND action LIKE '%/UpdateSegment' AND result = 'OK' ORDER BY sequence
                """, as: String.self)
            #expect(audited == ["true -> false", "false -> true", "true -> true"])
            let stored = try await server.database.scalar(
                "SELECT segment_id FROM segments WHERE tenant_id = 'acme' AND real_time ORDER BY 1", as: String.self)
            #expect(stored == ["vips_copy", "vips_now"])
        }
    }

    @Test("real_time on a connector or predictive segment is INVALID_ARGUMENT naming segment.real_time, at create and at update")
    func onlyRuleBased() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                let connector = await Self.violations {
                    _ = try await connection.segments.createSegment(
                        .with {
                            $0.parent = Self.parent
                            $0.segmentID = "crm"
                            $0.segment = .with {
                                $0.kind = .connector
                                $0.connector = .with { $0.source = .push }
                                $0.realTime = true
                            }
                        }, metadata: connection.metadata)
                }
                #expect(connector.0 == .invalidArgument && connector.1 == ["segment.real_time"], "\(connector)")
                let predictive = await Self.violations {
                    _ = try await connection.segments.createSegment(
                        .with {
                            $0.parent = Self.parent
                            $0.segmentID = "likely"
                            $0.validateOnly = true
                            $0.segment = .with {
                                $0.kind = .predictive
                                $0.predictive = .with {
                                    $0.goal = .convert
                                    $0.event = "purchase"
                                }
                                $0.realTime = true
                            }
                        }, metadata: connection.metadata)
                }
                #expect(predictive.0 == .invalidArgument && predictive.1 == ["segment.real_time"], "\(predictive)")

                // A connector segment without it, then an update that would set it.
                let crm = try await connection.segments.createSegment(
                    .with {
                        $0.parent = Self.parent
                        $0.segmentID = "crm"
                        $0.segment = .with {
                            $0.kind = .connector
                            $0.connector = .with { $0.source = .push }
                        }
                    }, metadata: connection.metadata)
                #expect(!crm.realTime)
                let update = await Self.violations {
                    _ = try await connection.segments.updateSegment(
                        .with {
                            $0.segment = .with {
                                $0.name = Self.name("crm")
                                $0.realTime = true
                            }
                            $0.updateMask = .with { $0.paths = ["real_time"] }
                        }, metadata: connection.metadata)
                }
                #expect(update.0 == .invalidArgument && update.1 == ["segment.real_time"], "\(update)")
                let after = try await connection.segments.getSegment(.with { $0.name = Self.name("crm") }, metadata: connection.metadata)
                #expect(!after.realTime && after.revision == 1)
            }
        }
    }
}
