import Foundation
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// Answers users saw that were wrong (issue 19, "Wrong answers").
@Suite("Wrong answers users saw: stored sizes after an erasure", .timeLimit(.minutes(5)))
struct WrongAnswersTests {
    @Test("after a user is erased, the stored size of every segment they were in matches its members")
    func sizeAfterErasure() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await MembershipTests.seed(server, connection)
                func size(_ id: String) async throws -> Int64 {
                    try await connection.segments.getSegment(.with { $0.name = MembershipTests.name(id) }, metadata: connection.metadata).size
                }
                #expect(try await size("buyers") == 3)
                #expect(try await size("vips") == 3)
                // u0 is in both segments.
                _ = try await connection.users.deleteUser(.with { $0.name = "tenants/acme/users/u0" }, metadata: connection.metadata)
                #expect(try await size("buyers") == 2)
                #expect(try await size("vips") == 2)
                let listed = try await connection.segments.listSegments(.with { $0.parent = "tenants/acme" }, metadata: connection.metadata)
                #expect(Set(listed.segments.map(\.size)) == [2])
                #expect(try await ConnectorTests.members(server, "buyers").count == 2)
            }
        }
    }

    @Test("sixteen clients refreshing one segment while a worker runs all get an operation, the same or a newer one, never an error")
    func concurrentRefreshesShareOnePending() async throws {
        try await TestServer.with(backgroundWorker: true) { server in
            try await server.connect { connection in
                try await MembershipTests.seed(server, connection)
            }
            let name = MembershipTests.name("buyers")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        try await server.connect { connection in
                            var last: Int64 = 0
                            for _ in 0..<30 {
                                let operation = try await connection.segments.refreshSegment(.with { $0.name = name }, metadata: connection.metadata)
                                let id = Int64(operation.name.split(separator: "/").last ?? "") ?? 0
                                #expect(id >= last, "an older operation came back after a newer one")
                                last = id
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}
