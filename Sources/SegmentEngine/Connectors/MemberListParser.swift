import Foundation
import SegmentDomain

/// Reads user ids from a CSV or NDJSON file fed in pieces of any size (an
/// upload's chunks, an HTTP body's buffers), so a file is never held whole.
///
/// CSV (read by the shared ``CSVReader``): when the first row has a `user_id`
/// column it is a header and that column is read; otherwise every row is one id
/// (a one-column file). Fields may be quoted (`"a,b"`, `""` for a quote, line
/// breaks inside quotes). NDJSON: one object per line with a string (or integer)
/// `user_id`. Blank lines are skipped everywhere.
public struct MemberListParser: Sendable {
    public enum Format: String, Sendable, CaseIterable { case csv, ndjson }

    /// A line that is not a user id, with where it is.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// The longest line accepted (a guard against a file with no newlines).
    public static let maxLineBytes = 64 * 1024

    let format: Format
    private var csvReader = CSVReader(maxRowBytes: MemberListParser.maxLineBytes)
    private var pending: [UInt8] = []
    private var line = 0
    /// CSV: the column holding the id, once the first row is read.
    private var column: Int?

    public init(format: Format) {
        self.format = format
    }

    /// Ids in the complete lines of `bytes` (the rest waits for the next piece).
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) throws -> [String] where Bytes.Element == UInt8 {
        if format == .csv { return try csvIDs(Self.rows { try csvReader.feed(bytes) }) }
        pending.append(contentsOf: bytes)
        var ids: [String] = []
        var start = 0
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if let id = try parse(pending[start..<newline]) { ids.append(id) }
            start = newline + 1
        }
        pending.removeFirst(start)
        if pending.count > Self.maxLineBytes {
            throw ParseError(line: line + 1, message: "a line longer than \(Self.maxLineBytes) bytes")
        }
        return ids
    }

    /// The id on the last line, when the file does not end with a newline.
    public mutating func finish() throws -> [String] {
        if format == .csv { return try csvIDs(Self.rows { try csvReader.finish() }) }
        defer { pending = [] }
        guard !pending.isEmpty, let id = try parse(pending[...]) else { return [] }
        return [id]
    }

    private mutating func parse(_ raw: ArraySlice<UInt8>) throws -> String? {
        line += 1
        var bytes = raw
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw ParseError(line: line, message: "not UTF-8") }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return nil }
        return try ndjson(trimmed)
    }

    /// The reader's rows, its failures as parse errors.
    private static func rows(_ read: () throws -> [CSVReader.Row]) throws -> [CSVReader.Row] {
        do {
            return try read()
        } catch let failure as CSVReader.Failure {
            throw ParseError(line: failure.line, message: failure.message)
        }
    }

    private mutating func csvIDs(_ rows: [CSVReader.Row]) throws -> [String] {
        var ids: [String] = []
        for row in rows where !row.isBlank {
            if let id = try csv(row.fields, line: row.line) { ids.append(id) }
        }
        return ids
    }

    private mutating func csv(_ fields: [String], line: Int) throws -> String? {
        if column == nil {
            if let index = fields.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).lowercased() == "user_id" }) {
                column = index
                return nil
            }
            guard fields.count == 1 else {
                throw ParseError(
                    line: line, message: "\(fields.count) columns and no user_id header: name the id column user_id, or send one id per line")
            }
            column = 0
        }
        guard let column, column < fields.count else { throw ParseError(line: line, message: "no user_id column on this row") }
        return try Self.checked(fields[column].trimmingCharacters(in: .whitespaces), line: line)
    }

    private func ndjson(_ text: String) throws -> String {
        guard text.hasPrefix("{") else { throw ParseError(line: line, message: "not a JSON object") }
        let decoded: NDJSONLine
        do {
            decoded = try JSONDecoder().decode(NDJSONLine.self, from: Data(text.utf8))
        } catch DecodingError.keyNotFound {
            throw ParseError(line: line, message: "no user_id field")
        } catch DecodingError.typeMismatch, DecodingError.valueNotFound {
            throw ParseError(line: line, message: "user_id is not a string")
        } catch {
            throw ParseError(line: line, message: "not a JSON object")
        }
        return try Self.checked(decoded.userID, line: line)
    }

    /// One NDJSON line: a string id, or an integer one written as a number.
    struct NDJSONLine: Decodable {
        let userID: String
        enum CodingKeys: String, CodingKey { case userID = "user_id" }
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if let number = try? container.decode(Int64.self, forKey: .userID) {
                userID = String(number)
            } else {
                userID = try container.decode(String.self, forKey: .userID)
            }
        }
    }

    static func checked(_ id: String, line: Int) throws -> String {
        guard (1...200).contains(id.utf8.count) else { throw ParseError(line: line, message: "a user id is 1-200 bytes") }
        return id
    }
}
