import Foundation
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// The curator's workflow (issue 19, item 6).
@Suite("Curators: gapless shelf positions, unpin of an unpinned segment changes nothing, pause and roll back", .timeLimit(.minutes(5)))
struct CuratorTests {
    static func shelf(_ connection: SegmentdConnection) async throws -> [String] {
        try await connection.segments.listReadyToUseSegments(.with { $0.parent = "tenants/acme" }, metadata: connection.metadata).segments
            .map { "\($0.curation.position):\($0.name.split(separator: "/").last ?? "")" }
    }

    static func pin(_ connection: SegmentdConnection, _ id: String, at position: Int32) async throws {
        _ = try await connection.segments.pinSegment(
            .with {
                $0.name = "tenants/acme/segments/\(id)"
                $0.category = "loyalty"
                $0.position = position
            }, metadata: connection.metadata)
    }

    @Test("pinning at a taken position shifts the others down; positions read 1…n after every pin, move and unpin")
    func positions() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                for id in ["a", "b", "c", "d"] { _ = try await SegmentLifecycleTests.create(connection, id, "has tag vip") }
                for id in ["a", "b", "c"] { try await Self.pin(connection, id, at: 0) }
                #expect(try await Self.shelf(connection) == ["1:a", "2:b", "3:c"])
                try await Self.pin(connection, "d", at: 1)
                #expect(try await Self.shelf(connection) == ["1:d", "2:a", "3:b", "4:c"])
                try await Self.pin(connection, "a", at: 0)  // moved to the end
                #expect(try await Self.shelf(connection) == ["1:d", "2:b", "3:c", "4:a"])
                try await Self.pin(connection, "c", at: 2)
                #expect(try await Self.shelf(connection) == ["1:d", "2:c", "3:b", "4:a"])
                _ = try await connection.segments.unpinSegment(.with { $0.name = "tenants/acme/segments/b" }, metadata: connection.metadata)
                #expect(try await Self.shelf(connection) == ["1:d", "2:c", "3:a"])

                let before = try await connection.segments.getSegment(.with { $0.name = "tenants/acme/segments/b" }, metadata: connection.metadata)
                let again = try await connection.segments.unpinSegment(.with { $0.name = "tenants/acme/segments/b" }, metadata: connection.metadata)
                #expect(again.etag == before.etag, "unpinning a segment that is not pinned changed its etag")
            }
        }
    }

    @Test("the built-in curator can pause, resume and roll back a shared segment, but not edit its rule")
    func curatorPullsABrokenSegment() async throws {
        try await TestServer.with { server in
            let curatorKey = try await server.createKey(roles: ["curator"])
            try await server.connect { connection in
                _ = try await SegmentLifecycleTests.create(connection, "shared", "has tag vip")
                _ = try await connection.segments.updateSegment(
                    .with {
                        $0.segment.name = "tenants/acme/segments/shared"
                        $0.segment.rule.text = "has tag nobody"
                        $0.updateMask.paths = ["rule"]
                    }, metadata: connection.metadata)
            }
            try await SegmentdConnection.with(server.settings(apiKey: curatorKey)) { curator in
                let name = "tenants/acme/segments/shared"
                _ = try await curator.segments.pauseSegment(.with { $0.name = name }, metadata: curator.metadata)
                let rolledBack = try await curator.segments.rollbackSegment(
                    .with {
                        $0.name = name
                        $0.revision = 1
                    }, metadata: curator.metadata)
                #expect(rolledBack.rule.text == "has tag vip")
                _ = try await curator.segments.resumeSegment(.with { $0.name = name }, metadata: curator.metadata)
                await #expect(throws: (any Error).self) {
                    _ = try await curator.segments.updateSegment(
                        .with {
                            $0.segment.name = name
                            $0.segment.rule.text = "has tag other"
                            $0.updateMask.paths = ["rule"]
                        }, metadata: curator.metadata)
                }
            }
        }
    }
}
