import Foundation
import SegmentRules
import Testing

/// Replays the fuzzer's corpus (Tests/Fixtures/rule-parser-corpus, grown by
/// ops/fuzz-rules): no input crashes the parser, and what parses round-trips.
@Suite("The parser's fuzz corpus")
struct RuleParserCorpusTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/rule-parser-corpus")

    @Test func everyCorpusInputParsesOrFailsCleanly() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).sorted()
        #expect(files.count >= 15)
        var parsed = 0
        for file in files {
            let data = try Data(contentsOf: Self.directory.appendingPathComponent(file))
            let text = String(decoding: data, as: UTF8.self)
            guard let rule = try? RuleText.parse(text) else { continue }
            parsed += 1
            let printed = RuleText.print(rule)
            #expect(try RuleText.parse(printed) == rule, "\(file): \(printed)")
        }
        #expect(parsed >= 15, "the seeds parse")
    }
}
