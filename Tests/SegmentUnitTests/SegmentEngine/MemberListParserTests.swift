import Foundation
import SegmentDomain
import SegmentEngine
import Testing

@Suite("Member lists: CSV and NDJSON of user ids, fed in pieces")
struct MemberListParserTests {
    static func parse(_ text: String, _ format: MemberListParser.Format, piece: Int) throws -> [String] {
        var parser = MemberListParser(format: format)
        var ids: [String] = []
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            ids += try parser.feed(bytes[offset..<min(offset + piece, bytes.count)])
            offset += piece
        }
        return ids + (try parser.finish())
    }

    @Test("the same ids whatever the piece size: header or not, CRLF, quotes, blank lines, no final newline")
    func pieces() throws {
        let cases: [(String, MemberListParser.Format, [String])] = [
            ("user_id\nu1\nu2\n", .csv, ["u1", "u2"]),
            ("email,User_ID,plan\r\na@x,u1,pro\r\n\"q,\"\"x\"\"\",\"u,2\",free\r\n\r\n", .csv, ["u1", "u,2"]),
            ("u1\n  u2  \n\nü-3", .csv, ["u1", "u2", "ü-3"]),
            ("note,user_id\n\"spans\ntwo lines\",u1\nplain,u2\n", .csv, ["u1", "u2"]),
            ("{\"user_id\":\"u1\"}\n\n{\"user_id\": 42, \"x\": [1]}\n{\"user_id\":\"ü\"}", .ndjson, ["u1", "42", "ü"]),
        ]
        for (text, format, expected) in cases {
            for piece in [1, 2, 3, 5, 64, 10_000] {
                #expect(try Self.parse(text, format, piece: piece) == expected, "\(text) in pieces of \(piece)")
            }
        }
    }

    @Test("bad lines name their line")
    func errors() {
        let cases: [(String, MemberListParser.Format, String)] = [
            ("u1\n\"open\n", .csv, "line 2: an unclosed quote"),
            ("a,b\n", .csv, "line 1: 2 columns and no user_id header"),
            ("user_id,x\nu1,1\n,2\n", .csv, "line 3: a user id is 1-200 bytes"),
            ("{\"user_id\":\"u1\"}\n[1]\n", .ndjson, "line 2: not a JSON object"),
            ("{\"user_id\":1.5}\n", .ndjson, "line 1: user_id is not a string"),
            ("{\"id\":\"x\"}\n", .ndjson, "line 1: no user_id field"),
            (String(repeating: "x", count: 201) + "\n", .csv, "line 1: a user id is 1-200 bytes"),
        ]
        for (text, format, expected) in cases {
            #expect(throws: MemberListParser.ParseError.self) { try Self.parse(text, format, piece: 4) }
            do {
                _ = try Self.parse(text, format, piece: 4)
            } catch {
                #expect("\(error)".hasPrefix(expected), "\(error)")
            }
        }
        var parser = MemberListParser(format: .csv)
        #expect(throws: MemberListParser.ParseError.self) { _ = try parser.feed([UInt8](repeating: 65, count: MemberListParser.maxLineBytes + 1)) }
    }
}
