import Foundation
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// The SQL compiler and the single-user evaluator are two implementations of
/// one meaning; on seeded data and thousands of seeded random rules they must
/// choose the same members.
@Suite("Rules: SQL compiler and evaluator agree", .timeLimit(.minutes(10)))
struct RuleDifferentialTests {
    /// A Wednesday afternoon in UTC; late evening in Tokyo, morning in New York.
    static let now = Date(timeIntervalSince1970: 1_795_617_000)  // 2026-11-25T14:30:00Z

    /// Loads `data` through the public API (tags, memberships and the tenant's zone by SQL).
    static func load(_ data: RuleTestData, into server: TestServer, tenantZone: String = "Europe/Istanbul") async throws {
        try await server.connect { connection in
            let parent = "tenants/\(server.tenant)"
            for chunk in stride(from: 0, to: data.profiles.count, by: 500) {
                _ = try await connection.ingestion.upsertProfiles(
                    .with {
                        $0.parent = parent
                        $0.profiles = Array(data.profiles[chunk..<min(chunk + 500, data.profiles.count)])
                    },
                    metadata: connection.metadata)
            }
            for chunk in stride(from: 0, to: data.events.count, by: 500) {
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = parent
                        $0.events = Array(data.events[chunk..<min(chunk + 500, data.events.count)])
                    },
                    metadata: connection.metadata)
            }
            for chunk in stride(from: 0, to: data.responses.count, by: 500) {
                _ = try await connection.ingestion.recordCampaignResponses(
                    .with {
                        $0.parent = parent
                        $0.responses = Array(data.responses[chunk..<min(chunk + 500, data.responses.count)])
                    },
                    metadata: connection.metadata)
            }
            if !data.locations.isEmpty {
                _ = try await connection.ingestion.recordLocations(
                    .with {
                        $0.parent = parent
                        $0.locations = data.locations
                    }, metadata: connection.metadata)
            }
            for (tag, users) in data.tagged.sorted(by: { $0.key < $1.key }) {
                _ = try await connection.tags.createTag(
                    .with {
                        $0.parent = parent
                        $0.tagID = tag
                    }, metadata: connection.metadata)
                _ = try await connection.tags.assignTags(
                    .with {
                        $0.parent = parent
                        $0.tags = [tag]
                        $0.userIds = users
                    }, metadata: connection.metadata)
            }
            // Referenced segments exist (a rule naming a missing one is refused); their
            // members are set below as the data set says.
            for segment in Set(RuleTestData.segments).union(data.members.keys).sorted() {
                _ = try await connection.segments.createSegment(
                    .with {
                        $0.parent = parent
                        $0.segmentID = segment
                        $0.segment = .with {
                            $0.kind = .connector
                            $0.connector = .with { $0.source = .push }
                            $0.schedule = .with { $0.manual = true }
                        }
                    }, metadata: connection.metadata)
            }
        }
        for (segment, users) in data.members {
            let ids = users.map { "'\($0)'" }.joined(separator: ",")
            _ = try await server.database.scalar(
                """
                WITH added AS (INSERT INTO segment_members (tenant_id, segment_id, user_index)
                    SELECT tenant_id, '\(segment)', user_index FROM users WHERE tenant_id = '\(server.tenant)' AND external_id IN (\(ids))
                    RETURNING 1)
                SELECT count(*)::int FROM added
                """, as: Int.self)
        }
        _ = try await server.database.scalar(
            "UPDATE tenants SET time_zone = '\(tenantZone)' WHERE tenant_id = '\(server.tenant)' RETURNING 1", as: Int.self)
    }

    @Test("2,000 random rules on a seeded data set: identical member sets")
    func sqlMatchesEvaluator() async throws {
        let dataSeed: UInt64 = 20_261_125
        let data = RuleTestData(seed: dataSeed, users: 150, now: Self.now)
        try await TestServer.with(configure: { $0.clock = { Self.now } }) { server in
            try await Self.load(data, into: server)
            let store = server.server.ruleStore
            let context = try await store.context(tenant: server.tenant, now: Self.now)
            #expect(context.lastCampaign != nil)
            #expect(context.tenantTimeZone.identifier == "Europe/Istanbul")
            let facts = try await store.allFacts(tenant: server.tenant)
            let ids = try await Self.externalIDs(server)
            #expect(facts.count >= 150)
            let evaluator = RuleEvaluator(context: context)
            var nonTrivial = 0
            for ruleSeed in UInt64(1)...2000 {
                var generator = RandomRules(seed: ruleSeed, vocabulary: RuleTestData.vocabulary(now: Self.now))
                generator.maxDepth = 3
                let rule = generator.rule()
                let sql = try await store.memberIndexes(rule, tenant: server.tenant, context: context, now: Self.now)
                let swift = facts.filter { evaluator.matches(rule, $0.value) }.keys.sorted()
                if !sql.isEmpty && sql.count < facts.count { nonTrivial += 1 }
                guard sql == swift else {
                    let onlySQL = Set(sql).subtracting(swift).sorted()
                    let onlySwift = Set(swift).subtracting(sql).sorted()
                    let first = (onlySQL + onlySwift)[0]
                    Issue.record(
                        """
                        data seed \(dataSeed), rule seed \(ruleSeed): member sets differ
                        rule: \(RuleText.print(rule))
                        only SQL: \(onlySQL.prefix(10).map { ids[$0] ?? "#\($0)" }); only evaluator: \(onlySwift.prefix(10).map { ids[$0] ?? "#\($0)" })
                        evaluator's explanation for \(ids[first] ?? "#\(first)"):
                        \(evaluator.explain(rule, facts[first]!).rendered())
                        """)
                    return
                }
            }
            // The rules must exercise the data, not only match nobody or everybody.
            #expect(nonTrivial > 600, "only \(nonTrivial) of 2000 rules chose a proper subset")
        }
    }

    static func externalIDs(_ server: TestServer) async throws -> [Int64: String] {
        let rows = try await server.database.scalar(
            "SELECT user_index::text || ' ' || external_id FROM users WHERE tenant_id = '\(server.tenant)'", as: String.self)
        return Dictionary(
            uniqueKeysWithValues: rows.map { row in
                let parts = row.split(separator: " ", maxSplits: 1)
                return (Int64(parts[0])!, String(parts[1]))
            })
    }
}
