import Foundation
import GRPCCore
import SegmentDomain
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("Membership and inspect: what campaigns, journeys and analytics ask", .timeLimit(.minutes(5)))
struct MembershipTests {
    static let parent = "tenants/acme"
    static func name(_ id: String) -> String { "\(parent)/segments/\(id)" }

    /// u0…u5: even users buy; u0, u1, u2 are vip; tiers gold/silver/none.
    static func seed(_ server: TestServer, _ connection: SegmentdConnection) async throws {
        _ = try await connection.ingestion.upsertProfiles(
            .with {
                $0.parent = parent
                $0.profiles = (0..<6).map { index in
                    .with {
                        $0.userID = "u\(index)"
                        if index < 4 { $0.attributes = ["tier": .string(index % 2 == 0 ? "gold" : "silver")] }
                    }
                }
            }, metadata: connection.metadata)
        _ = try await connection.ingestion.ingestEvents(
            .with {
                $0.parent = parent
                $0.events = (0..<6).map { .make("u\($0)", $0 % 2 == 0 ? "purchase" : "app_open") }
            }, metadata: connection.metadata)
        _ = try await connection.tags.createTag(
            .with {
                $0.parent = parent
                $0.tagID = "vip"
            }, metadata: connection.metadata)
        _ = try await connection.tags.assignTags(
            .with {
                $0.parent = parent
                $0.tags = ["vip"]
                $0.userIds = ["u0", "u1", "u2"]
            }, metadata: connection.metadata)
        for (id, rule) in [("buyers", "did purchase"), ("vips", "has tag vip")] {
            _ = try await SegmentLifecycleTests.create(connection, id, rule, schedule: .with { $0.manual = true })
            _ = try await connection.segments.refreshSegment(.with { $0.name = Self.name(id) }, metadata: connection.metadata)
        }
        try await server.worker.drain()
    }

    @Test("check one user or a batch, list a user's segments; unknown names are NOT_FOUND")
    func check() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await Self.seed(server, connection)
                let one = try await connection.membership.checkMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.userID = "u0"
                        $0.segments = [Self.name("buyers"), Self.name("vips")]
                    }, metadata: connection.metadata)
                #expect(one.results.map(\.member) == [true, true] && one.results.allSatisfy(\.hasEnterTime))
                let batch = try await connection.membership.batchCheckMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.userIds = ["u1", "u4", "stranger"]
                        $0.segments = [Self.name("buyers"), Self.name("vips")]
                    },
                    metadata: connection.metadata)
                #expect(batch.users.map { $0.results.map(\.member) } == [[false, true], [true, false], [false, false]])
                let segments = try await connection.membership.listUserSegments(
                    .with {
                        $0.parent = Self.parent
                        $0.userID = "u2"
                    }, metadata: connection.metadata)
                #expect(segments.memberships.map(\.segment) == [Self.name("buyers"), Self.name("vips")])

                // A paused segment answers with its last membership.
                _ = try await connection.segments.pauseSegment(.with { $0.name = Self.name("vips") }, metadata: connection.metadata)
                let paused = try await connection.membership.checkMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.userID = "u1"
                        $0.segments = [Self.name("vips")]
                    }, metadata: connection.metadata)
                #expect(paused.results.first?.member == true)

                #expect(
                    await SegmentLifecycleTests.code {
                        _ = try await connection.membership.checkMembership(
                            .with {
                                $0.parent = Self.parent
                                $0.userID = "u1"
                                $0.segments = [Self.name("nope")]
                            }, metadata: connection.metadata)
                    }.0 == .notFound)
                #expect(
                    await SegmentLifecycleTests.code {
                        _ = try await connection.membership.listUserSegments(
                            .with {
                                $0.parent = Self.parent
                                $0.userID = "stranger"
                            }, metadata: connection.metadata)
                    }.0 == .notFound)
                #expect(
                    await SegmentLifecycleTests.code {
                        _ = try await connection.membership.checkMembership(
                            .with {
                                $0.parent = Self.parent
                                $0.userID = "u1"
                                $0.segments = ["tenants/other/segments/buyers"]
                            }, metadata: connection.metadata)
                    }.0 == .notFound)
            }
        }
    }

    @Test("inspect: count, sample, breakdown, overlap, history, and who entered and exited last time")
    func inspect() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await Self.seed(server, connection)
                var inspection = try await connection.segments.inspectSegment(
                    .with {
                        $0.name = Self.name("buyers")
                        $0.sampleSize = 2
                        $0.breakdownAttribute = "tier"
                        $0.overlapSegment = Self.name("vips")
                    }, metadata: connection.metadata)
                #expect(inspection.count == 3)
                #expect(inspection.sampleUserIds == ["u0", "u2"])
                #expect(inspection.breakdown.map { "\($0.value)=\($0.count)" } == ["gold=2", "(not set)=1"])
                #expect(inspection.overlap.both == 2 && inspection.overlap.onlyThis == 1 && inspection.overlap.onlyOther == 1)
                #expect(inspection.sizeHistory.map(\.size) == [3])
                #expect(inspection.enteredSample == ["u0", "u2"] && inspection.exitedSample.isEmpty)

                // u1 buys, u4's purchase is erased: one enters, one exits.
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = Self.parent
                        $0.events = [.make("u1", "purchase")]
                    }, metadata: connection.metadata)
                _ = try await connection.users.deleteUser(.with { $0.name = "\(Self.parent)/users/u4" }, metadata: connection.metadata)
                _ = try await connection.segments.refreshSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                try await server.worker.drain()
                inspection = try await connection.segments.inspectSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                #expect(inspection.count == 3)
                #expect(inspection.enteredSample == ["u1"])
                #expect(inspection.sizeHistory.map(\.entered) == [1, 3])
            }
        }
    }

    @Test("StreamSegmentMembers returns one consistent snapshot while a refresh swaps membership underneath")
    func stream() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await Self.seed(server, connection)
                let request = ClientRequest(
                    message: Segmentd_V1_StreamSegmentMembersRequest.with {
                        $0.segment = Self.name("buyers")
                        $0.chunkSize = 1
                    }, metadata: connection.metadata)
                let (ids, totals) = try await connection.membership.streamSegmentMembers(request: request) { response in
                    var ids: [String] = []
                    var totals: Set<Int64> = []
                    var first = true
                    for try await chunk in response.messages {
                        ids += chunk.userIds
                        totals.insert(chunk.total)
                        if first {
                            first = false
                            // Everyone buys now; a refresh commits a larger membership while the stream is open.
                            _ = try await connection.ingestion.ingestEvents(
                                .with {
                                    $0.parent = Self.parent
                                    $0.events = ["u1", "u3", "u5"].map { .make($0, "purchase") }
                                }, metadata: connection.metadata)
                            _ = try await connection.segments.refreshSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                            try await server.worker.drain()
                        }
                    }
                    return (ids, totals)
                }
                #expect(ids == ["u0", "u2", "u4"], "the snapshot from when the stream began")
                #expect(totals == [3])
                let now = try await connection.segments.getSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                #expect(now.size == 6)
            }
        }
    }

    @Test("permissions: a viewer checks and inspects but cannot export or read a user's segments; an integration only checks")
    func permissions() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in try await Self.seed(server, connection) }
            let viewer = try await server.createKey(roles: ["viewer"], name: "viewer")
            let integration = try await server.createKey(roles: ["integration"], name: "integration")
            let buyers = Self.name("buyers")
            try await SegmentdConnection.with(server.settings(apiKey: viewer)) { connection in
                _ = try await connection.membership.checkMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.userID = "u0"
                        $0.segments = [buyers]
                    }, metadata: connection.metadata)
                _ = try await connection.segments.inspectSegment(.with { $0.name = buyers }, metadata: connection.metadata)
                #expect(
                    await SegmentLifecycleTests.code {
                        _ = try await connection.segments.exportSegment(.with { $0.name = buyers }, metadata: connection.metadata)
                    }.0 == .permissionDenied)
                #expect(
                    await SegmentLifecycleTests.code {
                        _ = try await ExportTests.download(connection, "\(Self.parent)/exports/1")
                    }.0 == .permissionDenied)
                #expect(
                    await SegmentLifecycleTests.code {
                        _ = try await connection.membership.listUserSegments(
                            .with {
                                $0.parent = Self.parent
                                $0.userID = "u0"
                            }, metadata: connection.metadata)
                    }.0 == .permissionDenied)
            }
            try await SegmentdConnection.with(server.settings(apiKey: integration)) { connection in
                let batch = try await connection.membership.batchCheckMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.userIds = ["u0"]
                        $0.segments = [buyers]
                    }, metadata: connection.metadata)
                #expect(batch.users.first?.results.first?.member == true)
                #expect(
                    await SegmentLifecycleTests.code {
                        _ = try await connection.segments.inspectSegment(.with { $0.name = buyers }, metadata: connection.metadata)
                    }.0 == .permissionDenied)
            }
        }
    }

    @Test("error paths: oversized batches, unknown overlap segments, exports not ready, bad offsets and formats")
    func errorPaths() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await Self.seed(server, connection)
                let buyers = Self.name("buyers")
                let oversized = Segmentd_V1_BatchCheckMembershipRequest.with {
                    $0.parent = Self.parent
                    $0.userIds = (0..<100_001).map { "u\($0)" }
                    $0.segments = [buyers]
                }
                let tooMany = await SegmentLifecycleTests.code {
                    _ = try await connection.membership.batchCheckMembership(oversized, metadata: connection.metadata)
                }
                #expect(tooMany.0 == .resourceExhausted && tooMany.2 == "LIMIT_EXCEEDED", "\(tooMany)")
                #expect(
                    await SegmentLifecycleTests.code {
                        _ = try await connection.membership.checkMembership(
                            .with {
                                $0.parent = Self.parent
                                $0.userID = "u0"
                            }, metadata: connection.metadata)
                    }.0 == .invalidArgument)
                #expect(
                    await SegmentLifecycleTests.code {
                        _ = try await connection.segments.inspectSegment(
                            .with {
                                $0.name = buyers
                                $0.overlapSegment = Self.name("nope")
                            }, metadata: connection.metadata)
                    }.0 == .notFound)
                #expect(
                    await SegmentLifecycleTests.code {
                        _ = try await connection.segments.exportSegment(
                            .with {
                                $0.name = buyers
                                $0.attributes = ["Not A Name"]
                            }, metadata: connection.metadata)
                    }.0 == .invalidArgument)
                // Not ready until its operation succeeded; offsets past the end are refused.
                let operation = try await connection.segments.exportSegment(.with { $0.name = buyers }, metadata: connection.metadata)
                let exportName = "\(Self.parent)/exports/\(operation.name.split(separator: "/").last!)"
                let early = await SegmentLifecycleTests.code { _ = try await ExportTests.download(connection, exportName) }
                #expect(early.0 == .failedPrecondition && early.1.contains("queued"), "\(early)")
                try await server.worker.drain()
                #expect(
                    await SegmentLifecycleTests.code { _ = try await ExportTests.download(connection, exportName, offset: 1_000_000) }.0
                        == .invalidArgument)
                let downloaded = try await ExportTests.download(connection, exportName)
                #expect(String(decoding: downloaded.0, as: UTF8.self) == "user_id\nu0\nu2\nu4\n")
            }
        }
    }

    @Test("checks answer from member sets in memory, and every change is seen by the next check")
    func memberSetsInMemory() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await Self.seed(server, connection)
                let cache = server.server.memberSets
                let both = [Self.name("buyers"), Self.name("vips")]
                func check(_ user: String, _ segments: [String] = both) async throws -> [Bool] {
                    try await connection.membership.checkMembership(
                        .with {
                            $0.parent = Self.parent
                            $0.userID = user
                            $0.segments = segments
                        }, metadata: connection.metadata
                    ).results.map(\.member)
                }
                await cache.wait { $0.isServing }
                // The first check reads the database and queues both sets; later ones answer from memory.
                #expect(try await check("u0") == [true, true])
                await cache.wait { $0.setLoads >= 2 && $0.userLoads >= 1 }
                let hitsBefore = cache.answeredFromMemory
                let loadsBefore = cache.setLoads
                for _ in 0..<2 {
                    #expect(try await check("u0") == [true, true])
                    #expect(try await check("u1") == [false, true])
                    #expect(try await check("u4") == [true, false])
                }
                #expect(cache.answeredFromMemory == hitsBefore + 6)
                #expect(cache.setLoads == loadsBefore)
                let enter = try await connection.membership.checkMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.userID = "u0"
                        $0.segments = [Self.name("buyers")]
                    }, metadata: connection.metadata)
                #expect(enter.results.first?.hasEnterTime == true)

                // A refresh that lets u1 and a user new since the ids were loaded in is seen by the very
                // next check (no waiting for a notification).
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = Self.parent
                        $0.events = [.make("u1", "purchase"), .make("u9", "purchase")]
                    }, metadata: connection.metadata)
                _ = try await connection.segments.refreshSegment(.with { $0.name = Self.name("buyers") }, metadata: connection.metadata)
                try await server.worker.drain()
                #expect(try await check("u1") == [true, true])
                #expect(try await check("u9") == [true, false])

                // A deleted user is a member of nothing at once; a deleted segment is NOT_FOUND at once, and back when restored.
                _ = try await connection.users.deleteUser(.with { $0.name = "\(Self.parent)/users/u0" }, metadata: connection.metadata)
                #expect(try await check("u0") == [false, false])
                _ = try await connection.segments.deleteSegment(.with { $0.name = Self.name("vips") }, metadata: connection.metadata)
                #expect(await SegmentLifecycleTests.code { _ = try await check("u1") }.0 == .notFound)
                _ = try await connection.segments.undeleteSegment(.with { $0.name = Self.name("vips") }, metadata: connection.metadata)
                #expect(try await check("u1") == [true, true])

                // Another replica's change reaches this one through the notification its transaction sends.
                _ = try await check("u2")  // queues what the changes dropped
                await cache.wait { _ in cache.holds(tenant: server.tenant, segments: ["buyers", "vips"]) }
                let hitsAfterChanges = cache.answeredFromMemory
                #expect(try await check("u5", [Self.name("vips")]) == [false])
                #expect(cache.answeredFromMemory == hitsAfterChanges + 1)
                let notificationsBefore = cache.notificationsApplied
                _ = try await server.database.scalar(
                    """
                    WITH added AS (
                        INSERT INTO segment_members (tenant_id, segment_id, user_index)
                        SELECT tenant_id, 'vips', user_index FROM users WHERE external_id = 'u5' RETURNING 1
                    ), notified AS (SELECT pg_notify('segmentd_membership', 'members acme vips'))
                    SELECT (SELECT count(*) FROM added)::int FROM notified
                    """, as: Int.self)
                await cache.wait { $0.notificationsApplied > notificationsBefore }
                #expect(try await check("u5", [Self.name("vips")]) == [true])
            }
        }
    }

    @Test("sets too large for the cache's budget, or a cache turned off, leave checks to the database, right every time")
    func memberSetsOverBudget() async throws {
        for budget in [4, 0] {
            var memberSets = MemberSetCache.Configuration()
            memberSets.maxMembers = budget  // 4: no set over 2 members is held; 0: off
            try await TestServer.with(memberSets: memberSets) { server in
                try await server.connect { connection in
                    try await Self.seed(server, connection)
                    let cache = server.server.memberSets
                    if budget > 0 { await cache.wait { $0.isServing } }
                    for _ in 0..<3 {
                        for (user, expected) in [
                            ("u0", [true, true]), ("u1", [false, true]), ("u4", [true, false]), ("stranger", [false, false]),
                        ] {
                            let results = try await connection.membership.checkMembership(
                                .with {
                                    $0.parent = Self.parent
                                    $0.userID = user
                                    $0.segments = [Self.name("buyers"), Self.name("vips")]
                                },
                                metadata: connection.metadata)
                            #expect(results.results.map(\.member) == expected, "\(user), budget \(budget)")
                        }
                    }
                    if budget > 0 { await cache.wait { $0.userLoads >= 1 } }
                    #expect(cache.setLoads == 0 && cache.answeredFromMemory == 0, "budget \(budget)")
                }
            }
        }
    }
}
