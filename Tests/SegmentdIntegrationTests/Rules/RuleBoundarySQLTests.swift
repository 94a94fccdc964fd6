import Foundation
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// The evaluator's hand-computed boundary table, run through ingestion and the SQL compiler.
@Suite("Rules: boundary cases in SQL", .timeLimit(.minutes(5)))
struct RuleBoundarySQLTests {
    static func value(_ value: RuleValue) -> Segmentd_V1_Value {
        switch value {
        case .string(let text): return .with { $0.stringValue = text }
        case .number(let number): return .with { $0.numberValue = number }
        case .bool(let flag): return .with { $0.boolValue = flag }
        case .time(let date): return .with { $0.timestampValue = .init(date: date) }
        case .list(let items): return .with { $0.stringListValue = .with { $0.values = items } }
        }
    }

    static let kinds: [SegmentRules.ResponseKind: Segmentd_V1_ResponseKind] = [
        .received: .received, .opened: .opened, .clicked: .clicked, .converted: .converted,
    ]

    @Test("every boundary case chooses the same users in SQL as by hand")
    func boundaries() async throws {
        let cases = BoundaryCases.all
        try await TestServer.with(configure: { $0.clock = { BoundaryCases.now } }) { server in
            let users = [("campaign-fixture", BoundaryCases.campaignFixture)] + cases.enumerated().map { ("case-\($0.offset)", $0.element.facts) }
            try await server.connect { connection in
                let parent = "tenants/\(server.tenant)"
                var events: [Segmentd_V1_Event] = []
                var responses: [Segmentd_V1_CampaignResponse] = []
                var locations: [Segmentd_V1_LocationUpdate] = []
                var profiles: [Segmentd_V1_Profile] = []
                for (user, facts) in users {
                    profiles.append(
                        .with {
                            $0.userID = user
                            $0.attributes = facts.attributes.mapValues(Self.value)
                        })
                    for event in facts.events {
                        events.append(
                            .with {
                                $0.userID = user
                                $0.name = event.name
                                $0.time = .init(date: event.time)
                                $0.messageID = "\(user)-\(events.count)"
                                $0.properties = event.properties.mapValues(Self.value)
                            })
                    }
                    for response in facts.responses {
                        responses.append(
                            .with {
                                $0.userID = user
                                $0.campaignID = response.campaign
                                $0.kind = Self.kinds[response.kind]!
                                $0.time = .init(date: response.time)
                            })
                    }
                    if let last = facts.lastLocation {
                        locations.append(
                            .with {
                                $0.userID = user
                                $0.point = .with {
                                    $0.latitude = last.latitude
                                    $0.longitude = last.longitude
                                }
                                $0.time = .init(date: last.time)
                            })
                    }
                }
                _ = try await connection.ingestion.upsertProfiles(
                    .with {
                        $0.parent = parent
                        $0.profiles = profiles
                    }, metadata: connection.metadata)
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = parent
                        $0.events = events
                    }, metadata: connection.metadata)
                _ = try await connection.ingestion.recordCampaignResponses(
                    .with {
                        $0.parent = parent
                        $0.responses = responses
                    }, metadata: connection.metadata)
                _ = try await connection.ingestion.recordLocations(
                    .with {
                        $0.parent = parent
                        $0.locations = locations
                    }, metadata: connection.metadata)
                _ = try await connection.tags.createTag(
                    .with {
                        $0.parent = parent
                        $0.tagID = "vip"
                    }, metadata: connection.metadata)
                let vips = users.filter { $0.1.tags.contains("vip") }.map(\.0)
                _ = try await connection.tags.assignTags(
                    .with {
                        $0.parent = parent
                        $0.tags = ["vip"]
                        $0.userIds = vips
                    }, metadata: connection.metadata)
            }
            for (user, facts) in users where facts.segments.contains("high_value") {
                _ = try await server.database.scalar(
                    "INSERT INTO segment_members (tenant_id, segment_id, user_index) SELECT tenant_id, 'high_value', user_index FROM users WHERE external_id = '\(user)' RETURNING 1",
                    as: Int.self)
            }
            _ = try await server.database.scalar("UPDATE tenants SET time_zone = '\(BoundaryCases.tenantZone)' RETURNING 1", as: Int.self)

            let store = server.server.ruleStore
            let context = try await store.context(tenant: server.tenant, now: BoundaryCases.now)
            #expect(context.lastCampaign == BoundaryCases.lastCampaign)
            let ids = try await RuleDifferentialTests.externalIDs(server)
            let stored = try await store.allFacts(tenant: server.tenant)
            // The audience engine, loaded from the same rows, over the same table.
            let loaded = try await AudienceLoadTests.load(server, tenant: server.tenant, batchSize: 500)
            let engine = AudienceEvaluator(audience: loaded.audience, context: context, segments: AudienceEvaluatorTests.segments(in: stored))
            let evaluator = RuleEvaluator(context: context)
            for (index, testCase) in cases.enumerated() {
                let rule = try RuleText.parse(testCase.rule)
                let members = Set(
                    try await store.memberIndexes(rule, tenant: server.tenant, context: context, now: BoundaryCases.now).compactMap { ids[$0] })
                #expect(members.contains("case-\(index)") == testCase.expected, "\(testCase.name): \(testCase.rule)")
                // The facts as loaded back from PostgreSQL give the same answer.
                let userIndex = try #require(ids.first { $0.value == "case-\(index)" }?.key)
                #expect(evaluator.matches(rule, stored[userIndex]!) == testCase.expected, "\(testCase.name) (stored facts)")
                let fromEngine = engine.members(rule)
                #expect(fromEngine.contains(UInt32(userIndex)) == testCase.expected, "\(testCase.name) (engine)")
                #expect(
                    fromEngine.map { Int64($0) } == stored.filter { evaluator.matches(rule, $0.value) }.keys.sorted(),
                    "\(testCase.name): the engine and the evaluator choose different users")
            }
        }
    }
}
