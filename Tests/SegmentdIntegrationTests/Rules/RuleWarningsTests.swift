import Foundation
import GRPCCore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// A typo in a name saves a segment that matches nobody (or, negated, everybody):
/// every place a rule is saved or tried says so, with the closest known name.
@Suite("Rule warnings where people save: create, update, validate-only, rollback, preview", .timeLimit(.minutes(5)))
struct RuleWarningsTests {
    static let parent = RuleServiceTests.parent

    static func messages(_ diagnostics: [Segmentd_V1_RuleDiagnostic]) -> [String] { diagnostics.map(\.message) }

    @Test("create (and validate-only), update and rollback answer with the rule's warnings and a suggestion; the segment is saved anyway")
    func savingWarns() async throws {
        try await RuleServiceTests.withData { _, connection in
            let typo = "no purchse event has been received yet; did you mean purchase?"
            let draft = try await connection.segments.createSegment(
                .with {
                    $0.parent = Self.parent
                    $0.segmentID = "x1b"
                    $0.validateOnly = true
                    $0.segment = .with { $0.rule = RuleServiceTests.text("did purchse in last 7d") }
                }, metadata: connection.metadata)
            #expect(Self.messages(draft.warnings) == [typo])
            #expect(draft.warnings.first?.suggestion == "purchase")
            #expect(draft.warnings.first?.severity == .warning)
            await #expect(throws: RPCError.self) {
                _ = try await connection.segments.getSegment(.with { $0.name = "\(Self.parent)/segments/x1b" }, metadata: connection.metadata)
            }

            let created = try await connection.segments.createSegment(
                .with {
                    $0.parent = Self.parent
                    $0.segmentID = "x1b"
                    $0.segment = .with { $0.rule = RuleServiceTests.text("did purchse in last 7d") }
                }, metadata: connection.metadata)
            #expect(created.revision == 1)
            #expect(Self.messages(created.warnings) == [typo])
            // Warnings answer a change; reading the segment does not repeat them.
            let read = try await connection.segments.getSegment(.with { $0.name = created.name }, metadata: connection.metadata)
            #expect(read.warnings.isEmpty)

            let updated = try await connection.segments.updateSegment(
                .with {
                    $0.segment = .with {
                        $0.name = created.name
                        $0.rule = RuleServiceTests.text("did purchase where amont > 3 and has tag vpi")
                    }
                    $0.updateMask = .with { $0.paths = ["rule"] }
                }, metadata: connection.metadata)
            #expect(
                Self.messages(updated.warnings) == [
                    "purchase events have never had the property amont; did you mean amount?", "there is no tag vpi yet; did you mean vip?",
                ])
            #expect(updated.warnings.map(\.path) == ["all[0].behavior.where[0]", "all[1].tag"])

            let clean = try await connection.segments.updateSegment(
                .with {
                    $0.segment = .with {
                        $0.name = created.name
                        $0.displayName = "Typo"
                    }
                    $0.updateMask = .with { $0.paths = ["display_name"] }
                }, metadata: connection.metadata)
            #expect(clean.warnings.isEmpty)

            let rolledBack = try await connection.segments.rollbackSegment(
                .with {
                    $0.name = created.name
                    $0.revision = 1
                }, metadata: connection.metadata)
            #expect(Self.messages(rolledBack.warnings) == [typo])
        }
    }

    @Test("preview warns that a negated typo matches everybody, with the suggestion")
    func previewWarns() async throws {
        try await RuleServiceTests.withData { _, connection in
            let preview = try await connection.rules.previewRule(
                .with {
                    $0.parent = Self.parent
                    $0.rule = RuleServiceTests.text("did not purchse in last 7d")
                }, metadata: connection.metadata)
            #expect(preview.count == 60)
            #expect(Self.messages(preview.diagnostics) == ["no purchse event has been received yet; did you mean purchase?"])
            #expect(preview.diagnostics.first?.suggestion == "purchase")
        }
    }

    @Test("check and create agree: a missing segment is an error for both, an empty one a warning for both")
    func checkAndCreateAgree() async throws {
        try await RuleServiceTests.withData { _, connection in
            for (rule, message) in [
                ("in segment nope", "segment nope does not exist (or is deleted)"),
                ("in segment high_valeu", "segment high_valeu does not exist (or is deleted); did you mean high_value?"),
            ] {
                let check = try await connection.rules.checkRule(
                    .with {
                        $0.parent = Self.parent
                        $0.rule = RuleServiceTests.text(rule)
                    }, metadata: connection.metadata)
                #expect(!check.valid)
                #expect(check.diagnostics.map(\.severity) == [.error])
                #expect(Self.messages(check.diagnostics) == [message])
                let refused = await #expect(throws: RPCError.self) {
                    _ = try await connection.segments.createSegment(
                        .with {
                            $0.parent = Self.parent
                            $0.segmentID = "refers"
                            $0.segment = .with { $0.rule = RuleServiceTests.text(rule) }
                        }, metadata: connection.metadata)
                }
                #expect(refused?.code == .invalidArgument)
                #expect(refused?.message.contains(message) == true)
            }

            _ = try await connection.segments.createSegment(
                .with {
                    $0.parent = Self.parent
                    $0.segmentID = "not_refreshed"
                    $0.segment = .with {
                        $0.rule = RuleServiceTests.text("did purchase")
                        $0.schedule = .with { $0.manual = true }
                    }
                }, metadata: connection.metadata)
            let emptyWarning = "segment not_refreshed has no members yet"
            let check = try await connection.rules.checkRule(
                .with {
                    $0.parent = Self.parent
                    $0.rule = RuleServiceTests.text("in segment not_refreshed")
                }, metadata: connection.metadata)
            #expect(check.valid)
            #expect(Self.messages(check.diagnostics) == [emptyWarning])
            let created = try await connection.segments.createSegment(
                .with {
                    $0.parent = Self.parent
                    $0.segmentID = "refers"
                    $0.segment = .with { $0.rule = RuleServiceTests.text("in segment not_refreshed") }
                }, metadata: connection.metadata)
            #expect(Self.messages(created.warnings) == [emptyWarning])
        }
    }
}
