import Foundation
import GRPCCore
import SegmentDomain
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Synchronization
import Testing

@Suite("Membership at an instant: CheckMembership and StreamSegmentMembers as of a past time, from the change log", .timeLimit(.minutes(5)))
struct MembershipHistoryTests {
    static let parent = "tenants/acme"
    static let segment = "\(parent)/segments/audience"

    static func check(_ connection: SegmentdConnection, _ user: String, at time: Date?) async throws -> Segmentd_V1_MembershipResult {
        let response = try await connection.membership.checkMembership(
            .with {
                $0.parent = parent
                $0.userID = user
                $0.segments = ["audience"]
                if let time { $0.atTime = .init(date: time) }
            }, metadata: connection.metadata)
        return try #require(response.results.first)
    }

    static func members(_ connection: SegmentdConnection, at time: Date) async throws -> (ids: [String], total: Int64) {
        let request = ClientRequest(
            message: Segmentd_V1_StreamSegmentMembersRequest.with {
                $0.segment = segment
                $0.atTime = .init(date: time)
            }, metadata: connection.metadata)
        return try await connection.membership.streamSegmentMembers(request: request) { response in
            var ids: [String] = []
            var total: Int64 = -1
            for try await chunk in response.messages {
                ids += chunk.userIds
                if total < 0 { total = chunk.total }
            }
            return (ids, total)
        }
    }

    @Test("who was in the segment at each moment, and since when; a time whose changes were pruned is OUT_OF_RANGE")
    func history() async throws {
        let clock = ManualWallClock(Date(timeIntervalSince1970: 1_796_000_000))
        let t0 = clock.now()
        try await TestServer.with(configure: {
            $0.clock = { clock.now() }
            $0.changeRetention = .seconds(86_400)
        }) { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection, count: 4)
                _ = try await ConnectorTests.createConnector(connection, "audience")
                _ = try await ConnectorTests.add(connection, "audience", "s1", ["u1", "u2"])  // t0
                clock.advance(by: 3600)
                _ = try await ConnectorTests.add(connection, "audience", "s2", ["u1"], remove: true)  // t0 + 1h
                clock.advance(by: 3600)
                _ = try await ConnectorTests.add(connection, "audience", "s3", ["u3", "u0"])  // t0 + 2h
                clock.advance(by: 3600)
                _ = try await connection.users.deleteUser(.with { $0.name = "\(Self.parent)/users/u0" }, metadata: connection.metadata)  // t0 + 3h

                let before = try await Self.check(connection, "u1", at: t0.addingTimeInterval(-60))
                #expect(!before.member && !before.hasEnterTime)
                let first = try await Self.check(connection, "u1", at: t0.addingTimeInterval(1800))
                #expect(first.member && first.enterTime.date == t0, "\(first)")
                let left = try await Self.check(connection, "u1", at: t0.addingTimeInterval(5400))
                #expect(!left.member)
                let third = try await Self.check(connection, "u3", at: t0.addingTimeInterval(5400))
                #expect(!third.member)
                let joined = try await Self.check(connection, "u3", at: t0.addingTimeInterval(9000))
                #expect(joined.member && joined.enterTime.date == t0.addingTimeInterval(7200), "\(joined)")
                // Now, and the same instant asked for as a time: the same answer.
                let now = try await Self.check(connection, "u3", at: nil)
                let asTime = try await Self.check(connection, "u3", at: clock.now())
                #expect(now.member && asTime.member && now.enterTime == asTime.enterTime)

                let first2 = try await Self.members(connection, at: t0.addingTimeInterval(1800))
                #expect(first2.ids == ["u1", "u2"] && first2.total == 2, "\(first2)")
                let middle = try await Self.members(connection, at: t0.addingTimeInterval(5400))
                #expect(middle.ids == ["u2"] && middle.total == 1, "\(middle)")
                let late = try await Self.members(connection, at: t0.addingTimeInterval(9000))
                // u0 was a member then, but has been erased since: counted, no longer named.
                #expect(late.ids == ["u2", "u3"] && late.total == 3, "\(late)")
                let erased = try await Self.members(connection, at: t0.addingTimeInterval(3 * 3600 + 60))
                #expect(erased.ids == ["u2", "u3"] && erased.total == 2, "\(erased)")
            }
            // The first two writes' changes are pruned: before the second write nothing can be told.
            _ = try await server.database.scalar(
                "UPDATE membership_changes SET written_at = written_at - interval '3 days' WHERE position <= 3 RETURNING 1", as: Int.self)
            // (positions 1-3: u1 and u2 entering, u1 leaving)
            _ = try await server.server.changeLog.prune()
            try await server.connect { connection in
                for time in [t0.addingTimeInterval(1800), t0.addingTimeInterval(3600)] {
                    do {
                        _ = try await Self.check(connection, "u1", at: time)
                        Issue.record("a pruned time was answered")
                    } catch let error as RPCError {
                        #expect(error.code == .outOfRange, "\(error)")
                    }
                }
                #expect(try await Self.check(connection, "u3", at: t0.addingTimeInterval(9000)).member)
            }
        }
    }
}
