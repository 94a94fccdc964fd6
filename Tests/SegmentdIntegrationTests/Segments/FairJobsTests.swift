import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// One tenant cannot starve the rest (issue 16, item 4): fair claims, per-tenant
/// caps and quotas, exports shared and expired.
@Suite("Fair jobs: one tenant cannot starve the rest; quotas; exports shared and expired", .timeLimit(.minutes(5)))
struct FairJobsTests {
    static let acme = TenantID("acme")!
    static let beta = TenantID("beta")!

    static func createBeta(_ server: TestServer) async throws {
        _ = try await server.connect(apiKey: server.platformKey) { connection in
            try await connection.tenants.createTenant(.with { $0.tenantID = "beta" }, metadata: connection.metadata)
        }
    }

    @Test("tenant A queues 500 exports and two slow pulls; tenant B's refresh starts within one worker slot; A runs one of each slow kind at once")
    func fairClaims() async throws {
        try await TestServer.with { server in
            try await Self.createBeta(server)
            let queue = server.server.jobQueue
            for index in 0..<2 {
                _ = try await queue.enqueue(
                    tenant: Self.acme, kind: .sync, target: "tenants/acme/segments/pull_\(index)", uniqueKey: nil, creator: "t")
            }
            for index in 0..<500 {
                _ = try await queue.enqueue(tenant: Self.acme, kind: .export, target: "tenants/acme/segments/s\(index)", uniqueKey: nil, creator: "t")
            }
            let refresh = try await queue.enqueue(tenant: Self.beta, kind: .refresh, target: "tenants/beta/segments/b", uniqueKey: nil, creator: "t")

            // Two workers, one free slot each: the first takes A's oldest job (a slow pull)...
            let first = try await queue.claim(worker: "w1", kinds: JobKind.allCases, limit: 1, lease: .seconds(600))
            #expect(first.map(\.tenantID) == [Self.acme] && first.first?.kind == .sync)
            // ...and the next free slot goes to B's refresh, ahead of 501 older jobs of A.
            let second = try await queue.claim(worker: "w2", kinds: JobKind.allCases, limit: 1, lease: .seconds(600))
            #expect(second.map(\.jobID) == [refresh.jobID])
            // A may run one pull and one export at once, never its second pull or a second export.
            let more = try await queue.claim(worker: "w3", kinds: JobKind.allCases, limit: 10, lease: .seconds(600))
            #expect(more.map(\.kind) == [.export], "\(more.map(\.kind))")
            #expect(try await queue.claim(worker: "w4", kinds: JobKind.allCases, limit: 10, lease: .seconds(600)).isEmpty)

            // A disabled tenant's jobs wait.
            _ = try await server.connect(apiKey: server.platformKey) { connection in
                try await connection.tenants.disableTenant(.with { $0.name = "tenants/beta" }, metadata: connection.metadata)
            }
            _ = try await queue.enqueue(tenant: Self.beta, kind: .train, target: "tenants/beta/segments/model", uniqueKey: nil, creator: "t")
            #expect(try await queue.claim(worker: "w5", kinds: [.train], limit: 10, lease: .seconds(600)).isEmpty)
        }
    }

    @Test("quotas: segments and pending jobs past the quota are RESOURCE_EXHAUSTED naming it; a request sharing a pending job is not counted")
    func quotas() async throws {
        try await TestServer.with(configure: {
            $0.quotas.maxSegments = 3
            $0.quotas.maxPendingJobs = 2
        }) { server in
            try await server.connect { connection in
                for index in 0..<3 {
                    _ = try await connection.segments.createSegment(
                        .with {
                            $0.parent = "tenants/acme"
                            $0.segmentID = "s\(index)"
                            $0.segment.rule.text = "profile.country = \"DE\""
                            $0.segment.schedule.manual = true
                        }, metadata: connection.metadata)
                }
                let fourth: [UInt8] = try Segmentd_V1_CreateSegmentRequest.with {
                    $0.parent = "tenants/acme"
                    $0.segmentID = "s3"
                    $0.segment.rule.text = "profile.country = \"DE\""
                    $0.segment.schedule.manual = true
                }.serializedBytes()
                let refused = try await RawCall.unary(
                    connection, Segmentd_V1_SegmentService.Method.CreateSegment.descriptor, message: fourth, apiKey: server.ownerKey)
                #expect(refused.code == .resourceExhausted && refused.quotaSubjects == ["segments"], "\(refused)")

                func refresh(_ id: String) async throws -> RawCall.Outcome {
                    try await RawCall.unary(
                        connection, Segmentd_V1_SegmentService.Method.RefreshSegment.descriptor,
                        message: try Segmentd_V1_RefreshSegmentRequest.with { $0.name = "tenants/acme/segments/\(id)" }.serializedBytes(),
                        apiKey: server.ownerKey)
                }
                #expect(try await refresh("s0").code == nil)
                #expect(try await refresh("s1").code == nil)
                let third = try await refresh("s2")
                #expect(third.code == .resourceExhausted && third.quotaSubjects == ["pending_jobs"], "\(third)")
                #expect(try await refresh("s0").code == nil, "a refresh sharing the pending one is not refused")
                try await server.worker.drain()
                #expect(try await refresh("s2").code == nil, "room again once the queue ran")
            }
        }
    }

    @Test("identical export requests share one operation; past the stored-bytes quota exports are refused")
    func exportsSharedAndCapped() async throws {
        try await TestServer.with(configure: { $0.quotas.maxExportBytes = 10 }) { server in
            try await server.connect { connection in
                try await MembershipTests.seed(server, connection)
                let segment = "tenants/acme/segments/buyers"
                let first = try await connection.segments.exportSegment(.with { $0.name = segment }, metadata: connection.metadata)
                let again = try await connection.segments.exportSegment(.with { $0.name = segment }, metadata: connection.metadata)
                #expect(first.name == again.name)
                let other = try await connection.segments.exportSegment(
                    .with {
                        $0.name = segment
                        $0.format = "ndjson"
                    }, metadata: connection.metadata)
                #expect(other.name != first.name)
                try await server.worker.drain()
                let refused = try await RawCall.unary(
                    connection, Segmentd_V1_SegmentService.Method.ExportSegment.descriptor,
                    message: try Segmentd_V1_ExportSegmentRequest.with { $0.name = segment }.serializedBytes(), apiKey: server.ownerKey)
                #expect(refused.code == .resourceExhausted && refused.quotaSubjects == ["export_bytes"], "\(refused)")
            }
        }
    }

    @Test("export files are deleted after the retention, when a user is erased, and when their segment is purged; the operation says why")
    func exportExpiry() async throws {
        let clock = ManualWallClock(Date())
        try await TestServer.with(configure: {
            $0.clock = clock.now
            $0.exportRetention = .seconds(24 * 3600)
        }) { server in
            try await server.connect { connection in
                try await MembershipTests.seed(server, connection)
                let segment = "tenants/acme/segments/buyers"
                func export(_ format: String) async throws -> Segmentd_V1_Operation {
                    let operation = try await connection.segments.exportSegment(
                        .with {
                            $0.name = segment
                            $0.format = format
                        }, metadata: connection.metadata)
                    try await server.worker.drain()
                    return try await connection.operations.getOperation(.with { $0.name = operation.name }, metadata: connection.metadata)
                }
                func files() -> [String] {
                    (try? FileManager.default.contentsOfDirectory(atPath: server.server.exportDirectory + "/acme")) ?? []
                }
                let old = try await export("csv")
                #expect(old.state == .succeeded && old.export.expired.isEmpty)
                _ = try await ExportTests.download(connection, old.export.export)
                #expect(files().count == 1)

                clock.advance(by: 25 * 3600)
                #expect(try await server.server.useCases.exportSweeper.sweep() == 1)
                #expect(files().isEmpty)
                let expired = try await connection.operations.getOperation(.with { $0.name = old.name }, metadata: connection.metadata)
                #expect(expired.export.expired == "kept for the export retention")
                await #expect(throws: RPCError.self) { _ = try await ExportTests.download(connection, old.export.export) }

                // A user's erasure expires every file made before it.
                let fresh = try await export("ndjson")
                #expect(files().count == 1)
                _ = try await connection.users.deleteUser(.with { $0.name = "tenants/acme/users/u1" }, metadata: connection.metadata)
                #expect(try await server.server.useCases.exportSweeper.sweep() == 1)
                #expect(files().isEmpty)
                let erased = try await connection.operations.getOperation(.with { $0.name = fresh.name }, metadata: connection.metadata)
                #expect(erased.export.expired == "a user was erased")
            }
        }
    }

    @Test("a purged segment's export files are deleted, and the operation says so")
    func purgedSegmentExpiresExports() async throws {
        let clock = ManualWallClock(Date())
        try await TestServer.with(configure: {
            $0.clock = clock.now
            $0.exportRetention = .seconds(365 * 24 * 3600)
        }) { server in
            try await server.connect { connection in
                try await MembershipTests.seed(server, connection)
                let segment = "tenants/acme/segments/buyers"
                let operation = try await connection.segments.exportSegment(.with { $0.name = segment }, metadata: connection.metadata)
                try await server.worker.drain()
                #expect(try await server.server.useCases.exportSweeper.sweep() == 0, "a deleted segment's exports stay until it is purged")
                _ = try await connection.segments.deleteSegment(.with { $0.name = segment }, metadata: connection.metadata)
                #expect(try await server.server.useCases.exportSweeper.sweep() == 0)
                clock.advance(by: 31 * 24 * 3600)
                #expect(try await server.server.segmentStore.purgeExpired() == 1)
                #expect(try await server.server.useCases.exportSweeper.sweep() == 1)
                let purged = try await connection.operations.getOperation(.with { $0.name = operation.name }, metadata: connection.metadata)
                #expect(purged.export.expired == "its segment was purged")
            }
        }
    }
}
