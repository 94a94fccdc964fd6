import Foundation
import SegmentDomain
import SegmentEngine
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Synchronization
import Testing

/// Membership checks and in-memory refreshes share one copy of each segment's
/// members: the set a refresh in the audience engine computed and committed
/// answers the next checks and is the next refresh's current members, without
/// being read back from PostgreSQL.
@Suite("Audience engine: checks answer from the members an in-memory refresh committed", .timeLimit(.minutes(5)))
struct EngineMemberChecksTests {
    static let start = RuleDifferentialTests.now

    /// Every user of the test data against `segments`, as BatchCheckMembership answers.
    static func checkAll(
        _ users: [String], _ segments: [String], server: TestServer, connection: SegmentdConnection
    ) async throws -> [Segmentd_V1_CheckMembershipResponse] {
        try await connection.membership.batchCheckMembership(
            .with {
                $0.parent = "tenants/\(server.tenant)"
                $0.userIds = users
                $0.segments = segments.map { "tenants/\(server.tenant)/segments/\($0)" }
            }, metadata: connection.metadata
        ).users
    }

    @Test(
        "a refresh in memory keeps the set it wrote: checks answer from it exactly as the database would, entry times included, and the next refresh takes it"
    )
    func refreshFeedsChecks() async throws {
        let data = RuleTestData(seed: 7, users: 120, now: Self.start)
        let clock = Mutex(Self.start)
        try await TestServer.with(configure: { configuration in
            EngineRefreshTests.configure(&configuration)
            configuration.clock = { clock.withLock { $0 } }
        }) { server in
            try await RuleDifferentialTests.load(data, into: server)
            let registry = try #require(server.server.audiences)
            let cache = server.server.memberSets
            // Users the cache knows (an id it has not seen sends a check to the database).
            let users = (0..<120).map { "u\($0)" }
            try await server.connect { connection in
                _ = try await SegmentLifecycleTests.create(connection, "buyers", "did purchase in last 30d", schedule: .with { $0.manual = true })
                #expect(try await EngineRefreshTests.refresh(["buyers"], server: server, connection: connection) == ["sql"])
                await registry.waitForLoad(server.tenant)
                await cache.wait { $0.isServing }
                // The tenant's user ids load on a first check (the database answers it).
                _ = try await Self.checkAll(users, ["buyers"], server: server, connection: connection)
                await cache.wait { $0.userLoads >= 1 }

                // A new segment refreshed in memory: every member entered now, kept as written.
                _ = try await SegmentLifecycleTests.create(
                    connection, "recent", "did purchase in last 14d or has tag vip", schedule: .with { $0.manual = true })
                #expect(try await EngineRefreshTests.refresh(["recent"], server: server, connection: connection) == ["engine"])
                let loads = cache.setLoads
                let hits = cache.answeredFromMemory
                #expect(cache.holds(tenant: server.tenant, segments: ["recent"]))
                let fromMemory = try await Self.checkAll(users, ["recent"], server: server, connection: connection)
                #expect(cache.answeredFromMemory == hits + 1 && cache.setLoads == loads, "answered from the written set, not a load")
                let members = Set(try await EngineRefreshTests.members(server, "recent"))
                #expect(members.count > 5)
                #expect(Set(fromMemory.filter { $0.results.first?.member == true }.map(\.userID)) == members)

                // A rule change an hour later, refreshed in memory: the refresh takes the held set as its
                // current members; those who stay keep their entry time, new ones enter at the new instant.
                clock.withLock { $0 = Self.start.addingTimeInterval(3600) }
                _ = try await connection.segments.updateSegment(
                    .with {
                        $0.segment = .with {
                            $0.name = "tenants/\(server.tenant)/segments/recent"
                            $0.rule = .with { $0.text = "did purchase in last 30d or has tag vip" }
                        }
                        $0.updateMask = .with { $0.paths = ["rule"] }
                    }, metadata: connection.metadata)
                let readsBefore = cache.refreshReads
                #expect(try await EngineRefreshTests.refresh(["recent"], server: server, connection: connection) == ["engine"])
                #expect(cache.refreshReads == readsBefore + 1, "the refresh's current members came from the held set")
                let grown = Set(try await EngineRefreshTests.members(server, "recent"))
                #expect(grown.isSuperset(of: members) && grown.count > members.count)
                let afterChange = try await Self.checkAll(users, ["recent"], server: server, connection: connection)
                #expect(cache.setLoads == loads, "the changed set was kept too")
                let times = Set(afterChange.compactMap { $0.results.first?.member == true ? $0.results.first?.enterTime.seconds : nil })
                #expect(times.count == 2, "two entry instants: \(times)")

                // ListUserSegments answers from the held sets too.
                let member = try #require(afterChange.first { $0.results.first?.member == true }?.userID)
                func listed() async throws -> [Segmentd_V1_MembershipResult] {
                    try await connection.membership.listUserSegments(
                        .with {
                            $0.parent = "tenants/\(server.tenant)"
                            $0.userID = member
                        }, metadata: connection.metadata
                    ).memberships
                }
                // A first call asks for every live segment's set (the test data has segments of its own).
                _ = try await listed()
                let live = try await server.database.scalar("SELECT segment_id FROM segments WHERE deleted_at IS NULL", as: String.self)
                await cache.wait { _ in cache.holds(tenant: server.tenant, segments: live) }
                let listHits = cache.answeredFromMemory
                let listedFromMemory = try await listed()
                #expect(cache.answeredFromMemory == listHits + 1, "answered from memory")
                #expect(listedFromMemory.map(\.segment).contains("tenants/\(server.tenant)/segments/recent"))

                // The database answers the same, to the microsecond: drop the set as another replica's
                // unversioned change would, and ask again.
                let notified = cache.notificationsApplied
                _ = try await server.database.scalar(
                    "SELECT 1 FROM (SELECT pg_notify('segmentd_membership', 'members \(server.tenant) recent')) n", as: Int32.self)
                await cache.wait { $0.notificationsApplied > notified }
                let memoryHits = cache.answeredFromMemory
                let fromDatabase = try await Self.checkAll(users, ["recent"], server: server, connection: connection)
                #expect(cache.answeredFromMemory == memoryHits, "answered by the database")
                #expect(fromDatabase == afterChange)
                let stored = try await server.database.scalar(
                    """
                    SELECT m.segment_id FROM segment_members m JOIN users u USING (tenant_id, user_index)
                    WHERE u.external_id = '\(member)' ORDER BY 1
                    """, as: String.self)
                #expect(listedFromMemory.map { $0.segment.split(separator: "/").last.map(String.init) ?? "" } == stored)
                #expect(try await listed() == listedFromMemory, "listed alike whether from memory or the database")

                // A notice of the version a held set is at keeps it; a later version drops it.
                await cache.wait { _ in cache.holds(tenant: server.tenant, segments: ["recent"]) }
                let version = try #require(
                    try await server.database.scalar("SELECT member_version FROM segments WHERE segment_id = 'recent'", as: Int64.self).first)
                for (announced, kept) in [(version, true), (version + 1, false)] {
                    let before = cache.notificationsApplied
                    _ = try await server.database.scalar(
                        "SELECT 1 FROM (SELECT pg_notify('segmentd_membership', 'members \(server.tenant) recent \(announced)')) n",
                        as: Int32.self)
                    await cache.wait { $0.notificationsApplied > before }
                    #expect(cache.holds(tenant: server.tenant, segments: ["recent"]) == kept, "notice of version \(announced)")
                }
            }
        }
    }
}
