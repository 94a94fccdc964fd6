import Foundation
import SegmentDomain
import SegmentEngine
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// A member row never outlives its user, though no foreign key ties them any
/// more (it cost a third of writing a new segment): an erasure waits for the
/// membership writes in flight and deletes what they wrote, and a write after
/// it leaves the erased user out even when it was computed before.
@Suite("Erasure against membership writes: no member row of an erased user", .timeLimit(.minutes(5)))
struct ErasureRaceTests {
    /// Polls until PostgreSQL shows an advisory lock request waiting (the erasure, behind the writer).
    static func waitForWaitingAdvisoryLock(_ server: TestServer) async throws {
        for _ in 0..<500 {
            let waiting = try await server.database.scalar(
                "SELECT count(*)::int8 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", as: Int64.self)
            if waiting.first ?? 0 > 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("no advisory lock request waited within 10 s")
    }

    @Test("an erasure racing a write waits for it and removes what it wrote; a later write of a stale user inserts nothing")
    func erasureWaitsForWriters() async throws {
        try await TestServer.with { server in
            let parent = "tenants/\(server.tenant)"
            try await server.connect { connection in
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = parent
                        $0.events = [.make("u1", "purchase"), .make("u2", "purchase")]
                    }, metadata: connection.metadata)
                _ = try await SegmentLifecycleTests.create(connection, "picked", "has tag nobody_has_it", schedule: .with { $0.manual = true })
                let indexes = try await server.database.scalar(
                    "SELECT user_index FROM users WHERE external_id IN ('u1', 'u2') ORDER BY external_id", as: Int64.self)
                #expect(indexes.count == 2)
                let database = server.server.useCases.database
                let tenant = server.tenant

                // A writer takes its lock, writes u1 and u2 into "picked", and waits, uncommitted.
                let (written, wroteSignal) = AsyncStream.makeStream(of: Void.self)
                let (commit, commitSignal) = AsyncStream.makeStream(of: Void.self)
                let writer = Task {
                    try await database.transaction(tenant: tenant) { transaction in
                        try await transaction.willWriteMemberships()
                        _ = try await transaction.lockSegment("picked")
                        let change = try await transaction.changeMembers(
                            of: "picked", entering: indexes, exiting: [], size: 2, now: Date(), jobID: 0)
                        wroteSignal.yield()
                        for await _ in commit { break }
                        return change
                    }
                }
                for await _ in written { break }
                // The erasure of u1 starts meanwhile and waits for the writer.
                let erasure = Task {
                    try await connection.users.deleteUser(.with { $0.name = "\(parent)/users/u1" }, metadata: connection.metadata)
                }
                try await Self.waitForWaitingAdvisoryLock(server)
                commitSignal.yield()
                let change = try await writer.value
                #expect(change.entered == 2 && change.size == 2)
                _ = try await erasure.value

                // What the writer committed for u1 was removed by the erasure, with its exit logged. (This writer
                // records no size, as a refresh would after its write; the erasure lowered the stored one.)
                #expect(try await RefreshTests.members(server, "picked") == ["u2"])
                let rowsOfU1 = try await server.database.scalar(
                    "SELECT count(*)::int8 FROM segment_members WHERE user_index = \(indexes[0])", as: Int64.self)
                #expect(rowsOfU1 == [0])
                let logged = try await server.database.scalar(
                    "SELECT cause FROM membership_changes WHERE segment_id = 'picked' AND user_index = \(indexes[0]) ORDER BY position",
                    as: String.self)
                #expect(logged == ["refresh", "deletion"])

                // A write computed before the erasure (u1 among those entering) inserts only users that exist.
                let late = try await database.transaction(tenant: tenant) { transaction in
                    try await transaction.willWriteMemberships()
                    _ = try await transaction.lockSegment("picked")
                    return try await transaction.changeMembers(of: "picked", entering: [indexes[0]], exiting: [], size: 2, now: Date(), jobID: 0)
                }
                #expect(late.entered == 0 && late.size == 1)
                #expect(try await RefreshTests.members(server, "picked") == ["u2"])
            }
        }
    }
}
