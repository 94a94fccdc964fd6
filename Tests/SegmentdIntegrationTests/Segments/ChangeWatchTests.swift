import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SegmentDomain
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Synchronization
import Testing

@Suite("WatchSegmentChanges: every change once and in order from a position, heartbeats, retention, isolation", .timeLimit(.minutes(5)))
struct ChangeWatchTests {
    static let parent = "tenants/acme"

    /// Runs a watch until `until` holds for the messages received so far; returns them.
    static func watch(
        _ connection: SegmentdConnection, _ request: Segmentd_V1_WatchSegmentChangesRequest,
        until: @escaping @Sendable ([Segmentd_V1_WatchSegmentChangesResponse]) -> Bool,
        while body: @escaping @Sendable () async throws -> Void = {}
    ) async throws -> [Segmentd_V1_WatchSegmentChangesResponse] {
        let received = Received()
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (first, arrived) = AsyncStream.makeStream(of: Void.self)
            group.addTask {
                defer { arrived.finish() }
                try await connection.membership.watchSegmentChanges(request: ClientRequest(message: request, metadata: connection.metadata)) {
                    response in
                    for try await message in response.messages {
                        let done = received.messages.withLock {
                            $0.append(message)
                            return until($0)
                        }
                        arrived.yield()
                        if done { return }
                    }
                }
            }
            // The stream has begun (its first message says where it stands) before the changes are made.
            for await _ in first { break }
            try await body()
            try await group.waitForAll()
        }
        return received.messages.withLock { $0 }
    }

    @Test("twenty watches whose clients stop reading hold no pooled connection: another client's call on a pool of 4 still answers")
    func stalledConsumers() async throws {
        try await TestServer.with(poolSize: 4) { server in
            // 3,000 changes of 200-character ids: about 600 KB a watch, far past what a 64 KiB window and the buffers hold.
            try await MemberStreamTests.seedLargeSegment(server, count: 3000)
            try await MemberStreamTests.expectStalledStreamsHoldNoConnection(server) { readers, stall in
                let request = ClientRequest(
                    message: Segmentd_V1_WatchSegmentChangesRequest.with {
                        $0.parent = Self.parent
                        $0.afterPosition = 0
                    }, metadata: readers.metadata)
                try await readers.membership.watchSegmentChanges(request: request) { response in
                    for try await _ in response.messages { try await stall() }
                }
            }
        }
    }

    /// The messages a watch received so far.
    final class Received: Sendable {
        let messages = Mutex<[Segmentd_V1_WatchSegmentChangesResponse]>([])
    }

    static func changes(_ messages: [Segmentd_V1_WatchSegmentChangesResponse]) -> [Segmentd_V1_SegmentChange] {
        messages.flatMap(\.changes)
    }

    static func text(_ change: Segmentd_V1_SegmentChange) -> String {
        "\(change.position) \(change.segment.split(separator: "/").last!) \(change.userID) \(change.kind == .entered ? "+" : "-")"
    }

    @Test("a consumer that stops and resumes from its last position gets every later change exactly once, in order")
    func resume() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection, count: 6)
                _ = try await ConnectorTests.createConnector(connection, "audience")
                _ = try await ConnectorTests.createConnector(connection, "other")
                // From now: the first message is a heartbeat at the latest position (0: nothing yet).
                let live = try await Self.watch(
                    connection, .with { $0.parent = Self.parent },
                    until: { Self.changes($0).count >= 3 },
                    while: {
                        _ = try await ConnectorTests.add(connection, "audience", "s1", ["u1", "u2"])
                        _ = try await ConnectorTests.add(connection, "audience", "s2", ["u1"], remove: true)
                    })
                #expect(live.first?.changes.isEmpty == true && live.first?.position == 0)
                let seen = Self.changes(live)
                #expect(seen.map(\.position) == [1, 2, 3])
                #expect(seen.map(Self.text).suffix(1) == ["3 audience u1 -"])
                #expect(seen.allSatisfy { $0.cause == .sync && $0.segment == "\(Self.parent)/segments/audience" })
                #expect(live.last?.position == 3)

                // While no one watches: three more changes, one of a segment the next watch leaves out.
                _ = try await ConnectorTests.add(connection, "other", "o1", ["u5"])
                _ = try await ConnectorTests.add(connection, "audience", "s3", ["u3", "u4"])
                let resumed = try await Self.watch(
                    connection,
                    .with {
                        $0.parent = Self.parent
                        $0.segments = ["audience"]
                        $0.afterPosition = 3
                    }, until: { Self.changes($0).count >= 2 })
                let after = Self.changes(resumed)
                #expect(after.map(\.position) == [5, 6] && Set(after.map(\.userID)) == ["u3", "u4"], "\(after.map(Self.text))")
                // From the beginning, everything, once.
                let all = try await Self.watch(
                    connection,
                    .with {
                        $0.parent = Self.parent
                        $0.afterPosition = 0
                    }, until: { Self.changes($0).count >= 6 })
                #expect(Self.changes(all).map(\.position) == Array(1...6))
            }
        }
    }

    @Test("heartbeats carry the position seen through, past changes of unwatched segments; a stream ends when cancelled")
    func heartbeats() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection, count: 3)
                _ = try await ConnectorTests.createConnector(connection, "audience")
                _ = try await ConnectorTests.createConnector(connection, "other")
                let messages = try await Self.watch(
                    connection,
                    .with {
                        $0.parent = Self.parent
                        $0.segments = ["audience"]
                        $0.heartbeatSeconds = 1
                    },
                    until: { $0.contains { $0.changes.isEmpty && $0.position == 2 } },
                    while: { _ = try await ConnectorTests.add(connection, "other", "o1", ["u1", "u2"]) })
                #expect(Self.changes(messages).isEmpty, "the watched segment did not change")
            }
        }
    }

    @Test("heartbeats keep coming while the tenant's other segments keep changing (their commits wake the watch)")
    func heartbeatsWhileBusy() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection, count: 2)
                _ = try await ConnectorTests.createConnector(connection, "audience")
                _ = try await ConnectorTests.createConnector(connection, "other")
                let heartbeats = Received()
                let messages = try await Self.watch(
                    connection,
                    .with {
                        $0.parent = Self.parent
                        $0.segments = ["audience"]
                        $0.heartbeatSeconds = 1
                    },
                    until: { messages in
                        let beats = messages.dropFirst().filter { $0.changes.isEmpty && $0.position > 0 }
                        heartbeats.messages.withLock { $0 = Array(beats) }
                        return beats.count >= 2
                    },
                    while: {
                        // u0 joins and leaves "other" over and over, until two heartbeats came (or 30 s passed).
                        let deadline = ContinuousClock.now + .seconds(30)
                        var round = 0
                        while heartbeats.messages.withLock({ $0.count }) < 2 && ContinuousClock.now < deadline {
                            _ = try await ConnectorTests.add(connection, "other", "r\(round)", ["u0"], remove: round % 2 == 1)
                            round += 1
                        }
                        #expect(heartbeats.messages.withLock { $0.count } >= 2, "no heartbeat in 30 s while the other segment kept changing")
                    })
                let beats = heartbeats.messages.withLock { $0 }
                #expect(beats.count >= 2 && Self.changes(messages).isEmpty, "\(beats.map(\.position))")
                #expect(beats.map(\.position) == beats.map(\.position).sorted())
            }
        }
    }

    @Test("a position the log no longer keeps is OUT_OF_RANGE with the oldest available; bad starts are INVALID_ARGUMENT")
    func outOfRange() async throws {
        try await TestServer.with(configure: { $0.changeRetention = .seconds(86_400) }) { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection, count: 3)
                _ = try await ConnectorTests.createConnector(connection, "audience")
                _ = try await ConnectorTests.add(connection, "audience", "s1", ["u0", "u1"])
                _ = try await ConnectorTests.add(connection, "audience", "s2", ["u2"])
            }
            _ = try await server.database.scalar(
                "UPDATE membership_changes SET written_at = written_at - interval '3 days' WHERE position <= 2 RETURNING 1", as: Int.self)
            _ = try await server.server.changeLog.prune()
            try await server.connect { connection in
                func code(_ request: Segmentd_V1_WatchSegmentChangesRequest) async -> (RPCError.Code?, String) {
                    do {
                        _ = try await Self.watch(connection, request, until: { _ in true })
                        return (nil, "")
                    } catch let error as RPCError {
                        return (error.code, error.message)
                    } catch {
                        return (.unknown, "\(error)")
                    }
                }
                let old = await code(
                    .with {
                        $0.parent = Self.parent
                        $0.afterPosition = 0
                    })
                #expect(old.0 == .outOfRange && old.1.contains("oldest available is 3"), "\(old)")
                let ancient = await code(
                    .with {
                        $0.parent = Self.parent
                        $0.startTime = .init(date: Date().addingTimeInterval(-5 * 86_400))
                    })
                #expect(ancient.0 == .outOfRange, "\(ancient)")
                let kept = try await Self.watch(
                    connection,
                    .with {
                        $0.parent = Self.parent
                        $0.afterPosition = 2
                    }, until: { Self.changes($0).count >= 1 })
                #expect(Self.changes(kept).map(\.position) == [3])
                let future = await code(
                    .with {
                        $0.parent = Self.parent
                        $0.afterPosition = 99
                    })
                #expect(future.0 == .invalidArgument, "\(future)")
                let heartbeat = await code(
                    .with {
                        $0.parent = Self.parent
                        $0.heartbeatSeconds = 301
                    })
                #expect(heartbeat.0 == .invalidArgument, "\(heartbeat)")
            }
        }
    }

    @Test("another tenant's key sees only its own tenant's changes and learns nothing of acme's")
    func isolation() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection, count: 3)
                _ = try await ConnectorTests.createConnector(connection, "audience")
                _ = try await ConnectorTests.add(connection, "audience", "s1", ["u0", "u1"])
            }
            let otherKey = try await server.connect(apiKey: server.platformKey) { connection in
                try await connection.tenants.createTenant(.with { $0.tenantID = "globex" }, metadata: connection.metadata).ownerKey.secret
            }
            try await server.connect(apiKey: otherKey) { other in
                // Its own log: empty, position 0, even from the beginning.
                let own = try await Self.watch(
                    other,
                    .with {
                        $0.parent = "tenants/globex"
                        $0.afterPosition = 0
                        $0.heartbeatSeconds = 1
                    }, until: { $0.count >= 2 })
                #expect(Self.changes(own).isEmpty && own.allSatisfy { $0.position == 0 }, "\(own)")
                do {
                    _ = try await Self.watch(
                        other,
                        .with {
                            $0.parent = Self.parent
                            $0.afterPosition = 0
                        }, until: { _ in true })
                    Issue.record("another tenant's log was readable")
                } catch let error as RPCError {
                    #expect(error.code == .notFound || error.code == .permissionDenied, "\(error)")
                }
            }
        }
    }
}
