import Testing

@testable import SegmentDomain

@Suite("CSV reader: RFC 4180 rows from pieces of any size")
struct CSVReaderTests {
    static let file = "user_id,note,score\r\nu1,\"says \"\"hi\"\"\",3\r\nu2,\"two\nlines, and a comma\",4\n\nu3,plain,5"

    /// Reads `text` fed in pieces of `size` bytes.
    static func read(_ text: String, pieces size: Int) throws -> [CSVReader.Row] {
        var reader = CSVReader()
        var rows: [CSVReader.Row] = []
        let bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            rows += try reader.feed(bytes[start..<min(start + size, bytes.count)])
            start += size
        }
        return rows + (try reader.finish())
    }

    @Test("quoted fields keep commas, doubled quotes and line breaks; rows know their first line; any piece size gives the same rows")
    func rows() throws {
        let expected: [CSVReader.Row] = [
            .init(fields: ["user_id", "note", "score"], line: 1),
            .init(fields: ["u1", "says \"hi\"", "3"], line: 2),
            .init(fields: ["u2", "two\nlines, and a comma", "4"], line: 3),
            .init(fields: [""], line: 5),
            .init(fields: ["u3", "plain", "5"], line: 6),
        ]
        #expect(try CSVReader.rows(Array(Self.file.utf8)) == expected)
        for size in [1, 2, 3, 7, 64] {
            #expect(try Self.read(Self.file, pieces: size) == expected, "pieces of \(size)")
        }
        #expect(expected[3].isBlank && !expected[2].isBlank)
    }

    @Test("an unclosed quote and a row over the limit are errors naming the line")
    func failures() {
        #expect(throws: CSVReader.Failure(line: 2, message: "an unclosed quote")) { try CSVReader.rows(Array("a\n\"open\n".utf8)) }
        var reader = CSVReader(maxRowBytes: 8)
        #expect(throws: CSVReader.Failure(line: 1, message: "a row longer than 8 bytes")) { _ = try reader.feed(Array("0123456789".utf8)) }
    }
}
