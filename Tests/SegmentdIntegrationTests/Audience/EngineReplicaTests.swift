import Foundation
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Synchronization
import Testing

/// The audience engine across processes and under concurrent ingest: two
/// segmentd on one database catch up from each other's ingest (woken by
/// NOTIFY) and give identical answers, and a refresh during ingest sees every
/// batch acknowledged before it began and no half batch.
@Suite("Audience engine: replicas and concurrent ingest", .timeLimit(.minutes(5)))
struct EngineReplicaTests {
    static let now = RuleDifferentialTests.now

    /// Refreshes `ids` through `server` (its worker); each operation's result.
    static func refresh(_ ids: [String], server: TestServer) async throws -> [String: Segmentd_V1_RefreshResult] {
        try await server.connect { connection in
            var results: [String: Segmentd_V1_RefreshResult] = [:]
            for id in ids {
                let operation = try await connection.segments.refreshSegment(
                    .with { $0.name = "tenants/\(server.tenant)/segments/\(id)" }, metadata: connection.metadata)
                try await server.worker.drain()
                let done = try await connection.operations.getOperation(.with { $0.name = operation.name }, metadata: connection.metadata)
                #expect(done.state == .succeeded, "\(id): \(done.error.message)")
                results[id] = done.refresh
            }
            return results
        }
    }

    @Test("two segmentd on one database: ingest at either reaches the other's loaded state by NOTIFY; both refresh to identical members")
    func twoReplicas() async throws {
        let data = RuleTestData(seed: 21, users: 120, now: Self.now)
        try await TestServer.with(configure: { EngineRefreshTests.configure(&$0) }) { first in
            try await RuleDifferentialTests.load(data, into: first)
            let (ids, rules) = try await first.connect { connection in
                var ids: [String] = []
                var rules: [String: Rule] = [:]
                for seed in UInt64(1)...40 where ids.count < 15 {
                    var generator = RandomRules(seed: seed &+ 500, vocabulary: RuleTestData.vocabulary(now: Self.now))
                    generator.maxDepth = 3
                    let rule = generator.rule()
                    guard
                        (try? await SegmentLifecycleTests.create(connection, "r\(seed)", RuleText.print(rule), schedule: .with { $0.manual = true }))
                            != nil
                    else { continue }
                    ids.append("r\(seed)")
                    rules["r\(seed)"] = rule
                }
                return (ids, rules)
            }
            try await TestServer.with(replicaOf: first, configure: { EngineRefreshTests.configure(&$0) }) { second in
                let registries = [try #require(first.server.audiences), try #require(second.server.audiences)]
                for registry in registries { await registry.load(first.tenant) }
                let snapshots = await [
                    registries[0].audience(for: first.tenant)?.databaseSnapshot, registries[1].audience(for: first.tenant)?.databaseSnapshot,
                ]

                // Ingest at the first reaches the second's state with no refresh asking: the NOTIFY wakes its catch-up.
                try await AudienceEvaluatorTests.ingestChanges(RuleTestData(seed: 22, users: 60, now: Self.now), into: first)
                await registries[1].wait(for: first.tenant) { $0.userIndex(of: "n1") != nil && $0.userIndex(of: "u3") == nil }
                #expect(await registries[1].audience(for: first.tenant)?.databaseSnapshot != snapshots[1])

                // Ingest at the second: the first refreshes with it.
                try await second.connect { connection in
                    _ = try await connection.ingestion.ingestEvents(
                        .with {
                            $0.parent = "tenants/\(second.tenant)"
                            $0.events = (0..<30).map {
                                .make(
                                    "late\($0)", ["purchase", "app_open", "add_to_cart"][$0 % 3], at: Self.now.addingTimeInterval(-Double($0) * 3600))
                            }
                        }, metadata: connection.metadata)
                }
                let byFirst = try await Self.refresh(ids, server: first)
                for id in ids { #expect(byFirst[id]?.evaluatedBy == "engine", "\(id)") }
                #expect(try await EngineRefreshTests.expectWrittenAsSQL(ids.map { ($0, rules[$0]!) }, server: first) > 4)
                // The second evaluates the same segments to the same members: nothing enters or leaves.
                let bySecond = try await Self.refresh(ids, server: second)
                for id in ids {
                    #expect(bySecond[id]?.evaluatedBy == "engine", "\(id)")
                    #expect(bySecond[id]?.entered == 0 && bySecond[id]?.exited == 0 && bySecond[id]?.size == byFirst[id]?.size, "\(id)")
                }
            }
        }
    }

    @Test("a refresh during ingest sees every batch acknowledged before it began, and no half batch")
    func consistentCut() async throws {
        try await TestServer.with(configure: { EngineRefreshTests.configure(&$0) }) { server in
            let registry = try #require(server.server.audiences)
            try await server.connect { connection in
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = "tenants/\(server.tenant)"
                        $0.events = [.make("seed", "pair", at: Self.now.addingTimeInterval(-60))]
                    }, metadata: connection.metadata)
                _ = try await SegmentLifecycleTests.create(connection, "pairs", "did pair", schedule: .with { $0.manual = true })
            }
            await registry.load(server.tenant)
            // Each batch is two users' events; batches are acknowledged in order.
            let acknowledged = AcknowledgedBatches()
            let batches = 60
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await server.connect { connection in
                        for batch in 1...batches {
                            _ = try await connection.ingestion.ingestEvents(
                                .with {
                                    $0.parent = "tenants/\(server.tenant)"
                                    $0.events = ["a\(batch)", "b\(batch)"].map { .make($0, "pair", at: Self.now.addingTimeInterval(-60)) }
                                }, metadata: connection.metadata)
                            acknowledged.count.store(batch, ordering: .sequentiallyConsistent)
                        }
                    }
                }
                group.addTask {
                    var refreshes = 0
                    var engine = 0
                    while acknowledged.count.load(ordering: .sequentiallyConsistent) < batches || refreshes == 0 {
                        let before = acknowledged.count.load(ordering: .sequentiallyConsistent)
                        let result = try await Self.refresh(["pairs"], server: server)["pairs"]
                        if result?.evaluatedBy == "engine" { engine += 1 }
                        let members = Set(try await RefreshTests.members(server, "pairs"))
                        for batch in 1...batches {
                            let halves = [members.contains("a\(batch)"), members.contains("b\(batch)")]
                            #expect(halves[0] == halves[1], "batch \(batch) is half in the members")
                            if batch <= before { #expect(halves[0], "batch \(batch) was acknowledged before the refresh began") }
                        }
                        refreshes += 1
                    }
                    #expect(engine == refreshes, "\(refreshes - engine) of \(refreshes) refreshes ran in SQL")
                }
                try await group.waitForAll()
            }
            let final = try await Self.refresh(["pairs"], server: server)["pairs"]
            #expect(final?.size == Int64(2 * batches + 1))
        }
    }
}

/// How many batches the ingest task has had acknowledged, shared with the refresh task.
private final class AcknowledgedBatches: Sendable {
    let count = Atomic<Int>(0)
}
