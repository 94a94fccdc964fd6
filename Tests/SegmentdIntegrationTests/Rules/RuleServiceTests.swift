import Foundation
import GRPCCore
import GRPCProtobuf
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@testable import SegmentServer

@Suite("RuleService: check, preview and explain over TLS", .timeLimit(.minutes(5)))
struct RuleServiceTests {
    static let now = RuleDifferentialTests.now
    static let parent = "tenants/acme"

    static func withData(
        configure: @escaping @Sendable (inout UseCases.Configuration) -> Void = { _ in },
        _ body: @Sendable (TestServer, SegmentdConnection) async throws -> Void
    ) async throws {
        let data = RuleTestData(seed: 7, users: 60, now: now)
        try await TestServer.with(configure: {
            $0.clock = { now }
            configure(&$0)
        }) { server in
            try await RuleDifferentialTests.load(data, into: server)
            try await server.connect { connection in try await body(server, connection) }
        }
    }

    static func text(_ text: String) -> Segmentd_V1_RuleDefinition { .with { $0.text = text } }

    @Test("CheckRule returns both forms and the restatement, and reports syntax, type and unknown-name problems")
    func check() async throws {
        try await Self.withData { _, connection in
            let ok = try await connection.rules.checkRule(
                .with {
                    $0.parent = Self.parent
                    $0.rule = Self.text("did  purchase at least 1 times in last 30 days and not has tag vip")
                },
                metadata: connection.metadata)
            #expect(ok.valid)
            #expect(ok.diagnostics.isEmpty)
            #expect(ok.rule.text == "did purchase in last 30d and not has tag vip")
            #expect(ok.rule.description_p == "Users who performed purchase in the last 30 days and who do not have the tag vip")
            #expect(try RuleProtoMapping.rule(ok.rule.ast) == RuleText.parse(ok.rule.text))

            let syntax = try await connection.rules.checkRule(
                .with {
                    $0.parent = Self.parent
                    $0.rule = Self.text("did purchase in last 30d\nand profile.tier ==")
                }, metadata: connection.metadata)
            #expect(!syntax.valid)
            let error = try #require(syntax.diagnostics.first)
            #expect(error.severity == .error && error.line == 2 && error.column == 20)
            #expect(error.excerpt == "and profile.tier ==\n                   ^")
            #expect(error.expected.contains("a string"))

            let typed = try await connection.rules.checkRule(
                .with {
                    $0.parent = Self.parent
                    $0.rule = Self.text("profile.tier > 3 or did purchase where currency = 5 or did nothing_like_it")
                },
                metadata: connection.metadata)
            #expect(!typed.valid)
            #expect(typed.diagnostics.map(\.severity) == [.error, .error, .warning])
            #expect(typed.diagnostics[0].message == "profile.tier is a string; only numbers and timestamps can be ordered")
            #expect(typed.diagnostics[0].path == "any[0].attribute")
            #expect(typed.diagnostics[1].message == "purchase.currency is a string; compare it with a string, not a number")
            #expect(typed.diagnostics[2].message == "no nothing_like_it event has been received yet")
        }
    }

    @Test("PreviewRule counts exactly what the evaluator counts, samples members, and saves nothing")
    func preview() async throws {
        try await Self.withData { server, connection in
            let auditBefore = try await server.database.scalar("SELECT count(*)::int FROM audit_events", as: Int.self)
            let facts = try await server.server.ruleStore.allFacts(tenant: server.tenant)
            let context = try await server.server.ruleStore.context(tenant: server.tenant, now: Self.now)
            let ids = try await RuleDifferentialTests.externalIDs(server)
            for text in [
                "did purchase at least 2 times in last 30d", "sum(purchase.amount) in last 60d >= 500", "not clicked last campaign",
                "profile.tier in [\"gold\", \"silver\"] and has tag vip", "within 100km of (41.01, 28.97)", "in segment high_value",
                "did app_open this week in user time zone or did not view_item",
            ] {
                let response = try await connection.rules.previewRule(
                    .with {
                        $0.parent = Self.parent
                        $0.rule = Self.text(text)
                        $0.sampleSize = 5
                    }, metadata: connection.metadata)
                let rule = try RuleText.parse(text)
                let expected = facts.filter { RuleEvaluator(context: context).matches(rule, $0.value) }.keys.sorted()
                #expect(response.count == Int64(expected.count), "\(text)")
                #expect(response.sampleUserIds == expected.prefix(5).map { ids[$0]! }, "\(text)")
                #expect(response.rule.text == RuleText.print(rule))
                #expect(response.evaluateTime.date == Self.now)
            }
            #expect(try await server.database.scalar("SELECT count(*)::int FROM audit_events", as: Int.self) == auditBefore)

            // Rules that cannot run are INVALID_ARGUMENT with the reason and where.
            do {
                _ = try await connection.rules.previewRule(
                    .with {
                        $0.parent = Self.parent
                        $0.rule = Self.text("did purchase at least x times")
                    }, metadata: connection.metadata)
                Issue.record("expected INVALID_ARGUMENT")
            } catch let error as RPCError {
                #expect(error.code == .invalidArgument)
                let info = try #require(try error.unpackGoogleRPCStatus()?.details.compactMap(\.errorInfo).first)
                #expect(info.reason == "RULE_SYNTAX")
                #expect(info.metadata == ["line": "1", "column": "23"])
            }
            // The parser's hints reach the client: the window spelled as it reads, at the word to drop.
            do {
                _ = try await connection.rules.previewRule(
                    .with {
                        $0.parent = Self.parent
                        $0.rule = Self.text("did purchase in the last 7 days")
                    }, metadata: connection.metadata)
                Issue.record("expected INVALID_ARGUMENT")
            } catch let error as RPCError {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("windows read 'in last 7d', without 'the'"))
                let info = try #require(try error.unpackGoogleRPCStatus()?.details.compactMap(\.errorInfo).first)
                #expect(info.reason == "RULE_SYNTAX")
                #expect(info.metadata == ["line": "1", "column": "17"])
            }
            // Capitalised connectives are keywords.
            _ = try await connection.rules.previewRule(
                .with {
                    $0.parent = Self.parent
                    $0.rule = Self.text("did purchase AND NOT has tag vip")
                }, metadata: connection.metadata)
            do {
                _ = try await connection.rules.previewRule(
                    .with {
                        $0.parent = Self.parent
                        $0.rule = Self.text("profile.age = \"old\"")
                    }, metadata: connection.metadata)
                Issue.record("expected INVALID_ARGUMENT")
            } catch let error as RPCError {
                let status = try #require(try error.unpackGoogleRPCStatus())
                #expect(status.details.compactMap(\.errorInfo).first?.reason == "TYPE_MISMATCH")
                #expect(status.details.compactMap(\.badRequest).flatMap(\.violations).map(\.field) == ["attribute"])
            }
        }
    }

    @Test("ExplainMembership shows each node's result and the observed value")
    func explain() async throws {
        try await Self.withData { server, connection in
            let facts = try await server.server.ruleStore.allFacts(tenant: server.tenant)
            let ids = try await RuleDifferentialTests.externalIDs(server)
            // A user with purchases, so the observed count is not zero.
            let (index, _) = try #require(facts.sorted { $0.key < $1.key }.first { $0.value.events.contains { $0.name == "purchase" } })
            let purchases = facts[index]!.events.filter { $0.name == "purchase" && $0.time >= Self.now.addingTimeInterval(-60 * 86_400) }.count
            let response = try await connection.rules.explainMembership(
                .with {
                    $0.parent = Self.parent
                    $0.rule = Self.text("did purchase at least 100 times in last 60d or has tag vip")
                    $0.userID = ids[index]!
                }, metadata: connection.metadata)
            #expect(response.root.children.count == 2)
            let leaf = response.root.children[0]
            #expect(leaf.text == "did purchase at least 100 times in last 60d")
            #expect(!leaf.result)
            #expect(leaf.observed == "purchase count in last 60d = \(purchases), needed at least 100")
            #expect(response.member == response.root.children[1].result)

            await #expect(throws: RPCError.self) {
                _ = try await connection.rules.explainMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.rule = Self.text("has tag vip")
                        $0.userID = "nobody"
                    }, metadata: connection.metadata)
            }
            do {
                _ = try await connection.rules.explainMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.rule = Self.text("has tag vip")
                        $0.userID = "nobody"
                    }, metadata: connection.metadata)
            } catch let error as RPCError {
                #expect(error.code == .notFound)
            }
        }
    }

    @Test("ExplainMembership loads at most the limit of a user's newest events and says the explanation is partial past it")
    func explainBound() async throws {
        try await TestServer.with(configure: { $0.explainEventLimit = 5 }) { server in
            try await server.connect { connection in
                // "heavy" bought every day for 8 days (3 more than the limit); "light" 3 times.
                let now = Date()
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = Self.parent
                        $0.events =
                            (1...8).map { .make("heavy", "purchase", at: now.addingTimeInterval(-Double($0) * 86_400), id: "h\($0)") }
                            + (1...3).map { .make("light", "purchase", at: now.addingTimeInterval(-Double($0) * 86_400), id: "l\($0)") }
                    }, metadata: connection.metadata)
                func explain(_ user: String, _ rule: String) async throws -> Segmentd_V1_ExplainMembershipResponse {
                    try await connection.rules.explainMembership(
                        .with {
                            $0.parent = Self.parent
                            $0.rule = Self.text(rule)
                            $0.userID = user
                        }, metadata: connection.metadata)
                }
                let heavy = try await explain("heavy", "did purchase at least 6 times in last 30d")
                #expect(heavy.partial && heavy.eventLimit == 5)
                #expect(heavy.root.observed == "purchase count in last 30d = 5, needed at least 6", "only the newest 5 were loaded")
                // The newest events are the ones kept.
                let recent = try await explain("heavy", "did purchase in last 2d")
                #expect(recent.member && recent.partial)
                let light = try await explain("light", "did purchase at least 3 times in last 30d")
                #expect(light.member && !light.partial && light.eventLimit == 5)
            }
        }
    }

    @Test("hostile names and values are bound, never spliced into SQL")
    func hostileInput() async throws {
        try await Self.withData { server, connection in
            let store = server.server.ruleStore
            let hostile = ["'; DROP TABLE users; --", "$$; SELECT 1; $$", "\\\"", "x' OR '1'='1", "ünï\u{0}code"]
            let users = try await server.database.scalar("SELECT count(*)::int FROM users", as: Int.self)
            for value in hostile {
                // Values through the API (names must be valid there).
                for text in [
                    "profile.tier = \(RuleText.print(.attribute(AttributeCondition(attribute: "x", test: .equals(.string(value))))).dropFirst("profile.x = ".count))",
                    "did purchase where currency starts with \"\(value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"",
                ] where !value.contains("\u{0}") {
                    let response = try await connection.rules.previewRule(
                        .with {
                            $0.parent = Self.parent
                            $0.rule = Self.text(text)
                        }, metadata: connection.metadata)
                    #expect(response.count == 0, "\(text)")
                }
                // Names straight into the compiler (the validator would reject them first).
                for rule in [
                    Rule.behavior(BehaviorCondition(event: value, filters: [PropertyFilter(property: value, test: .notSet)])),
                    .attribute(AttributeCondition(attribute: value, test: .notSet)),
                    .tag(TagCondition(tag: value, negated: true)),
                    .segment(SegmentCondition(segment: value, negated: true)),
                    .response(ResponseCondition(kind: .clicked, negated: true, campaign: .campaign(value))),
                ] where !value.contains("\u{0}") {
                    let members = try await store.memberIndexes(rule, tenant: server.tenant, now: Self.now)
                    let expectedAll = try await server.database.scalar("SELECT count(*)::int FROM users WHERE tenant_id = 'acme'", as: Int.self)[0]
                    let expectedNone = rule == .behavior(BehaviorCondition(event: value, filters: [PropertyFilter(property: value, test: .notSet)]))
                    #expect(members.count == (expectedNone ? 0 : expectedAll), "\(rule)")
                }
            }
            #expect(try await server.database.scalar("SELECT count(*)::int FROM users", as: Int.self) == users)
        }
    }

    @Test("a rule past its time budget is RESOURCE_EXHAUSTED, not a stuck server")
    func timeout() async throws {
        try await Self.withData(configure: { $0.evaluationTimeout = .milliseconds(1) }) { _, connection in
            // Hundreds of windowed scans: far more than a millisecond of work.
            let text = (0..<150).map { "did \(RuleTestData.events[$0 % 4]) at least \($0 % 5) times in last \($0 + 1)d" }.joined(separator: " or ")
            do {
                _ = try await connection.rules.previewRule(
                    .with {
                        $0.parent = Self.parent
                        $0.rule = Self.text(text)
                    }, metadata: connection.metadata)
                Issue.record("expected RESOURCE_EXHAUSTED")
            } catch let error as RPCError {
                #expect(error.code == .resourceExhausted)
                #expect(try error.unpackGoogleRPCStatus()?.details.compactMap(\.errorInfo).first?.reason == "EVALUATION_TIMEOUT")
            }
            // The server still answers (a check needs no evaluation, so the 1 ms budget does not apply).
            let check = try await connection.rules.checkRule(
                .with {
                    $0.parent = Self.parent
                    $0.rule = Self.text("has tag vip")
                }, metadata: connection.metadata)
            #expect(check.valid)
        }
    }

    @Test("the main leaf kinds can be served by their indexes")
    func plans() async throws {
        try await Self.withData { server, _ in
            let store = server.server.ruleStore
            for (text, index) in [
                ("did purchase in last 7d", "events"),
                ("did purchase at least 3 times in last 30d where amount > 10", "events"),
                ("did purchase at least 2 times", "event_rollups"),
                ("sum(purchase.amount) since 2026-11-01 >= 10", "event_rollups"),
                ("has tag vip", "user_tags_pkey"),
                ("clicked campaign spring_sale", "campaign_responses_by_campaign"),
                ("in segment high_value", "segment_members_pkey"),
            ] {
                let plan = try await store.plan(try RuleText.parse(text), tenant: server.tenant, now: Self.now, withoutSequentialScans: true)
                #expect(!plan.contains("Seq Scan"), "\(text):\n\(plan)")
                #expect(plan.contains(index), "\(text):\n\(plan)")
            }
        }
    }
}
