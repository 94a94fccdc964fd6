import Foundation
import SegmentDomain
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("The membership change log: every change of every kind, positioned per tenant, kept for the retention", .timeLimit(.minutes(5)))
struct ChangeLogTests {
    static let parent = "tenants/acme"

    /// The tenant's log as "position segment user entered|exited cause", in position order.
    static func log(_ server: TestServer, tenant: String = "acme") async throws -> [String] {
        try await server.database.scalar(
            """
            SELECT c.position || ' ' || c.segment_id || ' ' || coalesce(u.external_id, '#' || c.user_index) || ' '
                   || CASE WHEN c.entered THEN 'entered' ELSE 'exited' END || ' ' || c.cause
            FROM membership_changes c LEFT JOIN users u ON u.tenant_id = c.tenant_id AND u.user_index = c.user_index
            WHERE c.tenant_id = '\(tenant)' ORDER BY c.position
            """, as: String.self)
    }

    static func refresh(_ connection: SegmentdConnection, _ server: TestServer, _ id: String) async throws -> String {
        let operation = try await connection.segments.refreshSegment(
            .with { $0.name = "\(parent)/segments/\(id)" }, metadata: connection.metadata)
        try await server.worker.drain()
        return operation.name
    }

    @Test("refreshes, syncs and an erasure each append their changes, with gapless increasing positions and the cause")
    func everyKind() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = Self.parent
                        $0.events = [.make("u1", "purchase"), .make("u2", "purchase"), .make("u3", "app_open")]
                    }, metadata: connection.metadata)
                _ = try await SegmentLifecycleTests.create(connection, "buyers", "did purchase", schedule: .with { $0.manual = true })
                let first = try await Self.refresh(connection, server, "buyers")
                #expect(try await Self.log(server) == ["1 buyers u1 entered refresh", "2 buyers u2 entered refresh"])
                let jobID = try #require(Int64(first.split(separator: "/").last!))
                #expect(try await server.database.scalar("SELECT DISTINCT job_id FROM membership_changes", as: Int64.self) == [jobID])

                // Nothing changed: nothing is appended, and no position is taken.
                _ = try await Self.refresh(connection, server, "buyers")
                #expect(try await Self.log(server).count == 2)

                _ = try await ConnectorTests.createConnector(connection, "audience")
                _ = try await ConnectorTests.add(connection, "audience", "s1", ["u3", "u2"])
                _ = try await ConnectorTests.add(connection, "audience", "s2", ["u3"], remove: true)
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = Self.parent
                        $0.events = [.make("u3", "purchase")]
                    }, metadata: connection.metadata)
                _ = try await Self.refresh(connection, server, "buyers")
                let before = try await Self.log(server).map { $0.split(separator: " ").dropFirst().joined(separator: " ") }
                #expect(before.count == 6, "\(before)")
                #expect(before[2..<4].sorted() == ["audience u2 entered sync", "audience u3 entered sync"])
                #expect(before[4] == "audience u3 exited sync")
                #expect(before[5] == "buyers u3 entered refresh")
                // The inspect's samples read the last write's changes from the log.
                let inspection = try await connection.segments.inspectSegment(
                    .with { $0.name = "\(Self.parent)/segments/buyers" }, metadata: connection.metadata)
                #expect(inspection.enteredSample == ["u3"] && inspection.exitedSample.isEmpty, "\(inspection)")
                let erased = try await server.database.scalar("SELECT user_index FROM users WHERE external_id = 'u2'", as: Int64.self)
                _ = try await connection.users.deleteUser(.with { $0.name = "\(Self.parent)/users/u2" }, metadata: connection.metadata)

                let log = try await Self.log(server)
                #expect(log.count == 8, "\(log)")
                // Positions 1…n, each once.
                #expect(log.map { Int($0.split(separator: " ")[0])! } == Array(1...log.count))
                // The erased user left both segments (their id is gone: the log keeps the index).
                let entries = log.map { $0.split(separator: " ").dropFirst().joined(separator: " ") }
                #expect(
                    entries[6...].sorted() == ["audience #\(erased[0]) exited deletion", "buyers #\(erased[0]) exited deletion"], "\(entries)")
                #expect(
                    try await server.database.scalar(
                        "SELECT last_position FROM membership_change_positions WHERE tenant_id = 'acme'", as: Int64.self) == [Int64(log.count)])

            }
        }
    }

    @Test("writers of one tenant running at once take distinct positions with no gap; another tenant counts its own")
    func concurrentWriters() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection, count: 40)
                for index in 0..<8 { _ = try await ConnectorTests.createConnector(connection, "c\(index)") }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<8 {
                        group.addTask {
                            for round in 0..<3 {
                                _ = try await ConnectorTests.add(connection, "c\(index)", "r\(round)", (0..<5).map { "u\(index * 5 + $0)" })
                                _ = try await ConnectorTests.add(connection, "c\(index)", "x\(round)", ["u\(index * 5)"], remove: true)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let positions = try await server.database.scalar(
                "SELECT position FROM membership_changes WHERE tenant_id = 'acme' ORDER BY position", as: Int64.self)
            let expected: [Int64] = Array(1...Int64(positions.count))
            #expect(positions == expected)
            // 8 segments: 5 entered, then per round one exit and (after the first) one re-entry.
            let perSegment = 5 + 1 + 2 * 2
            #expect(positions.count == 8 * perSegment, "\(positions.count)")
        }
    }

    @Test("the retention sweep removes old changes, and a member stream of a version that lost its changes is told to start again")
    func retention() async throws {
        try await TestServer.with(configure: { $0.changeRetention = .seconds(86_400) }) { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection, count: 4)
                _ = try await ConnectorTests.createConnector(connection, "audience")
                _ = try await ConnectorTests.add(connection, "audience", "s1", ["u0", "u1"])
                _ = try await ConnectorTests.add(connection, "audience", "s2", ["u2"])
            }
            // Written "long ago": two days before the sweep's now, past a one-day retention.
            _ = try await server.database.scalar(
                "UPDATE membership_changes SET written_at = written_at - interval '3 days' WHERE position <= 2 RETURNING 1", as: Int.self)
            let store = server.server.changeLog
            #expect(try await store.prune() == ChangeLogStore.Pruned(partitions: 0, rows: 2))
            #expect(try await server.database.scalar("SELECT position FROM membership_changes ORDER BY 1", as: Int64.self) == [3])
            // Version 1 (the first sync) lost its changes; version 2 keeps them.
            #expect(
                try await server.database.scalar(
                    "SELECT member_changes_from FROM segments WHERE segment_id = 'audience'", as: Int64.self) == [1])
            #expect(try await store.prune() == ChangeLogStore.Pruned(partitions: 0, rows: 0))
            // Positions go on from where they were.
            try await server.connect { connection in
                _ = try await ConnectorTests.add(connection, "audience", "s3", ["u3"])
            }
            #expect(try await server.database.scalar("SELECT position FROM membership_changes ORDER BY 1", as: Int64.self) == [3, 4])
        }
    }
}
