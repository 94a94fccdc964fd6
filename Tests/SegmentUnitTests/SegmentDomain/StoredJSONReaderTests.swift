import Foundation
import SegmentDomain
import SegmentRules
import SegmentdClient
import Testing

/// The hand-written reader of stored attribute and property JSON gives exactly
/// what Foundation's JSONDecoder gives, and declines (nil) whatever it does not
/// expect so the decoder decides.
@Suite("Stored JSON: the fast reader agrees with JSONDecoder")
struct StoredJSONReaderTests {
    static func decoded(_ json: String) -> [String: StoredJSONValue]? {
        try? JSONDecoder().decode([String: StoredJSONValue].self, from: Data(json.utf8))
    }

    static func read(_ json: String) -> [String: StoredJSONValue]? {
        StoredJSONReader.object(json).map { Dictionary($0, uniquingKeysWith: { $1 }) }
    }

    /// A random string with the characters escaping gets wrong: quotes, backslashes, controls, non-ASCII, astral.
    static func text<G: RandomNumberGenerator>(_ random: inout G) -> String {
        let pieces = ["a", "Z", "9", " ", "\"", "\\", "/", "\n", "\t", "\u{1}", "\u{1F}", "é", "ß", "日本", "🙂", "\u{7F}", "{", "]", ","]
        return (0..<Int.random(in: 0...8, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
    }

    static func value<G: RandomNumberGenerator>(_ random: inout G) -> RuleValue {
        switch Int.random(in: 0..<5, using: &random) {
        case 0: .string(text(&random))
        case 1:
            .number(
                [
                    0, -0.0, 1, -1.5, 0.1, 12.5, 1e21, 1.7976931348623157e308, 5e-324, 123_456_789_012_345_678,
                    Double.random(in: -1e6...1e6, using: &random),
                ]
                .randomElement(using: &random)!)
        case 2: .bool(Bool.random(using: &random))
        case 3: .list((0..<Int.random(in: 0...3, using: &random)).map { _ in text(&random) })
        default: .string("2026-11-01T10:00:00.123Z")
        }
    }

    @Test("random objects as ingest writes them, and as PostgreSQL prints them back, read the same as JSONDecoder reads them")
    func agreesWithDecoder() throws {
        var random = SplitMix64(seed: 18)
        for round in 0..<3_000 {
            var object: [String: RuleValue] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &random) { object[Self.text(&random)] = Self.value(&random) }
            let compact = object.jsonText
            // jsonb::text puts a space after each colon and comma outside strings.
            let spaced = Self.spaced(compact)
            for json in [compact, spaced, " \n\(spaced)\t "] {
                let expected = try #require(Self.decoded(json), "round \(round): \(json)")
                #expect(Self.read(json) == expected, "round \(round): \(json)")
            }
        }
    }

    @Test("numbers, escapes and surrogate pairs as PostgreSQL prints them")
    func printedForms() {
        for json in [
            #"{"a": 1, "b": -0, "c": 0.5, "d": 1e+21, "e": 1E-7, "f": 100000000000000000000, "g": 12345678901234567890.5}"#,
            #"{"s": "\"\\\/\b\f\n\r\t\u0001\u001f\u00e9\ud83d\ude42", "k\u00e9y": "é"}"#, #"{}"#, #"{"l": [], "m": ["x", "y\""]}"#,
            #"{"t": true, "f": false}"#,
        ] {
            #expect(Self.read(json) != nil, "\(json)")
            #expect(Self.read(json) == Self.decoded(json), "\(json)")
        }
    }

    @Test("what the reader does not expect is left to JSONDecoder: null, nesting, other lists, broken text, lone surrogates")
    func declines() throws {
        for json in [
            #"{"a": null}"#, #"{"a": {"b": 1}}"#, #"{"a": [1, 2]}"#, #"{"a": 01}"#, #"{"a": 1.}"#, #"{"a": .5}"#, #"{"a": 1e}"#,
            #"{"a": "x"#, #"{"a": "x",}"#, #"{"a" 1}"#, #"{"a": 1} x"#, #"["a"]"#, #"{"a": "\ud800"}"#, #"{"a": "\x"}"#, "{\"a\": \"\u{1}\"}",
            #"{"a": tru}"#, #"{"a": 1e400}"#, "",
        ] {
            #expect(Self.read(json) == nil, "\(json)")
        }
        // And the stored-value reader still throws where the decoder throws.
        #expect(throws: (any Error).self) { try [String: RuleValue](storedJSON: #"{"a": null}"#, type: { _ in nil }) }
        let typed = try [String: RuleValue](storedJSON: #"{"at": "2026-11-01T10:00:00.123Z", "n": 2}"#, type: { $0 == "at" ? .timestamp : nil })
        #expect(typed["n"] == .number(2))
        #expect(typed["at"] == .time(try Date("2026-11-01T10:00:00.123Z", strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))))
    }

    /// `json` with a space after every colon and comma outside strings.
    static func spaced(_ json: String) -> String {
        var out = ""
        var inString = false
        var escaped = false
        for character in json {
            out.append(character)
            if inString {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { inString = false }
            } else if character == "\"" {
                inString = true
            } else if character == ":" || character == "," {
                out.append(" ")
            }
        }
        return out
    }
}
