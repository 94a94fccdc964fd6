import Foundation
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// Real-time segments in a real segmentd killed with SIGKILL while it keeps them:
/// the next process takes the tenant over when the dead one's lease expires,
/// evaluates from what is stored, and the change log stays exact — per user it
/// alternates entered/exited with no gap or duplicate, and a consumer resuming
/// from its last position sees each later change once.
@Suite("Real-time segments across kill -9", .serialized, .timeLimit(.minutes(10)))
struct RealtimeProcessTests {
    static let parent = RefreshWorkerProcessTests.parent

    static func ingest(_ settings: ClientSettings, _ events: [Segmentd_V1_Event]) async throws {
        try await SegmentdConnection.with(settings) { connection in
            for start in stride(from: 0, to: events.count, by: 500) {
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = Self.parent
                        $0.events = Array(events[start..<min(events.count, start + 500)])
                    }, metadata: connection.metadata)
            }
        }
    }

    /// The changes after `position` up to the tenant's latest, read by a watch.
    static func changes(_ settings: ClientSettings, after position: Int64, through last: Int64) async throws -> [Segmentd_V1_SegmentChange] {
        try await SegmentdConnection.with(settings) { connection in
            let messages = try await ChangeWatchTests.watch(
                connection,
                .with {
                    $0.parent = Self.parent
                    $0.afterPosition = position
                }, until: { $0.last.map { $0.position >= last } ?? false })
            return ChangeWatchTests.changes(messages)
        }
    }

    @Test(
        "kill -9 while real time writes: the next owner resumes after the lease; the log alternates per user with no gap or duplicate; a resumed watch sees each change once"
    )
    func killNine() async throws {
        let database = try await TestDatabase.create()
        let home = try TestEnvironment.temporaryDirectory("sgdrt")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let lease = ["--realtime-lease-seconds", "3"]
        let first = try RefreshWorkerProcessTests.start(database, home: home, extra: lease)
        let settings = try await first.waitUntilServing()
        try await SegmentdConnection.with(settings) { connection in
            _ = try await connection.segments.createSegment(
                .with {
                    $0.parent = Self.parent
                    $0.segmentID = "carts"
                    $0.segment = .with {
                        $0.rule.text = "did add_to_cart in last 1h and not did purchase in last 1h"
                        $0.schedule = .with { $0.manual = true }
                        $0.realTime = true
                    }
                }, metadata: connection.metadata)
        }
        try await Self.ingest(settings, (0..<50).map { .make("u\($0)", "add_to_cart") })
        try await RefreshWorkerProcessTests.waitFor(database, "SELECT count(*) = 50 FROM segment_members WHERE segment_id = 'carts'")
        let checkpoint = try #require(try await database.scalar("SELECT max(position) FROM membership_changes", as: Int64.self).first)
        #expect(checkpoint == 50)

        // More carts and purchases, and the owner is killed while it writes them.
        try await Self.ingest(settings, (50..<400).map { .make("u\($0)", "add_to_cart") })
        try await Self.ingest(settings, (0..<100).map { .make("u\($0)", "purchase") })
        first.send(SIGKILL)
        #expect(try await first.waitForExit() == 128 + SIGKILL)

        // Ingest goes on at the next process while the dead owner's lease runs out.
        let second = try RefreshWorkerProcessTests.start(database, home: home, extra: lease)
        defer { second.stop() }
        var resumed = try await second.waitUntilServing()
        resumed.apiKey = settings.apiKey
        try await Self.ingest(resumed, (400..<450).map { .make("u\($0)", "add_to_cart") } + (100..<120).map { .make("u\($0)", "purchase") })
        try await RefreshWorkerProcessTests.waitFor(
            database,
            "SELECT count(*) = 330 AND min(u.external_id COLLATE \"C\") = 'u120' FROM segment_members m JOIN users u USING (tenant_id, user_index) WHERE m.segment_id = 'carts'"
        )
        let epochs = try await database.scalar("SELECT epoch FROM realtime_leases", as: Int64.self)
        #expect(epochs == [2])

        // Per user the log alternates, starts entered, and ends where the membership is.
        let rows = try await database.scalar(
            "SELECT user_index || ' ' || entered::text FROM membership_changes WHERE segment_id = 'carts' ORDER BY position", as: String.self)
        var last: [String: Bool] = [:]
        for row in rows {
            let parts = row.split(separator: " ")
            let entered = parts[1] == "true"
            #expect(last[String(parts[0])] != entered && (last[String(parts[0])] != nil || entered), "\(row)")
            last[String(parts[0])] = entered
        }
        #expect(last.values.filter { $0 }.count == 330)
        let causes = try await database.scalar("SELECT DISTINCT cause FROM membership_changes", as: String.self)
        #expect(causes == ["realtime"])

        // A consumer that had seen the first 50 changes resumes: every later change once, in order, no gap.
        let latest = try #require(try await database.scalar("SELECT max(position) FROM membership_changes", as: Int64.self).first)
        let later = try await Self.changes(resumed, after: checkpoint, through: latest)
        #expect(later.map(\.position) == Array((checkpoint + 1)...latest))
        var members = Set((0..<50).map { "u\($0)" })
        for change in later {
            if change.kind == .entered { members.insert(change.userID) } else { members.remove(change.userID) }
        }
        #expect(members == Set((120..<450).map { "u\($0)" }))
        second.send(SIGTERM)
        #expect(try await second.waitForExit() == 0)
    }
}
