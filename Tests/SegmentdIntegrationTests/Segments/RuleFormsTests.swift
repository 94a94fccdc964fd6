import Foundation
import SegmentDomain
import SegmentEngine
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

/// A segment's rule is parsed once, when it is saved: its canonical text, AST and
/// restatement are stored together, and reads return what was stored.
@Suite("Rules are parsed once, when saved", .timeLimit(.minutes(5)))
struct RuleFormsTests {
    static let parent = "tenants/acme"

    @Test("create stores the three forms; reads return the stored ones; rows saved before are filled in at startup")
    func storedForms() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                let created = try await connection.segments.createSegment(
                    .with {
                        $0.parent = Self.parent
                        $0.segmentID = "recent_buyers"
                        $0.segment.rule.text = "did  purchase at least 2 times in last 7 days"
                    }, metadata: connection.metadata)
                #expect(created.rule.text == "did purchase at least 2 times in last 7d")
                let stored = try await server.database.scalar(
                    "SELECT rule_description || '|' || (rule_ast IS NOT NULL)::text FROM segments WHERE segment_id = 'recent_buyers'",
                    as: String.self)
                #expect(stored == ["\(created.rule.description_p)|true"])

                // Reads serve what is stored: a marked restatement comes back as it is, unparsed and undescribed.
                _ = try await server.database.scalar(
                    "UPDATE segments SET rule_description = 'MARK' WHERE segment_id = 'recent_buyers' RETURNING 1", as: Int32.self)
                let read = try await connection.segments.getSegment(.with { $0.name = created.name }, metadata: connection.metadata)
                #expect(read.rule.description_p == "MARK")
                #expect(read.rule.ast == created.rule.ast)
                let listed = try await connection.segments.listSegments(.with { $0.parent = Self.parent }, metadata: connection.metadata)
                #expect(listed.segments.first { $0.name == created.name }?.rule.description_p == "MARK")

                // A row saved before the forms were kept is filled in (as segmentd does at startup).
                _ = try await server.database.scalar(
                    "UPDATE segments SET rule_ast = NULL, rule_description = NULL WHERE segment_id = 'recent_buyers' RETURNING 1", as: Int32.self)
                let filled = try await server.server.useCases.segments.fillMissingRuleForms()
                #expect(filled.filled == 1 && filled.unreadable.isEmpty)
                let again = try await connection.segments.getSegment(.with { $0.name = created.name }, metadata: connection.metadata)
                #expect(again.rule == created.rule)
                #expect(try await server.server.useCases.segments.fillMissingRuleForms().filled == 0)

                // An update of the rule replaces all three forms.
                let updated = try await connection.segments.updateSegment(
                    .with {
                        $0.segment.name = created.name
                        $0.segment.rule.text = "has tag vip"
                        $0.updateMask.paths = ["rule"]
                    }, metadata: connection.metadata)
                let after = try await connection.segments.getSegment(.with { $0.name = created.name }, metadata: connection.metadata)
                #expect(after.rule == updated.rule && after.rule.text == "has tag vip" && after.rule.hasAst)
            }
        }
    }
}
