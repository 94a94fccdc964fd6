/// Reads CSV rows (RFC 4180: a quoted field may hold commas, doubled quotes and
/// line breaks; `\r\n` or `\n` ends a row) from bytes fed in pieces of any size,
/// so a file is never held whole. The one CSV reader: connector imports and
/// pulls, and `segctl`'s record files.
public struct CSVReader: Sendable {
    /// One row and the line it starts on (1-based).
    public struct Row: Sendable, Equatable {
        public var fields: [String]
        public var line: Int

        public init(fields: [String], line: Int) {
            self.fields = fields
            self.line = line
        }

        /// A row with nothing but blanks.
        public var isBlank: Bool { fields.allSatisfy { $0.allSatisfy { $0 == " " || $0 == "\t" } } }
    }

    /// What is wrong with the file, and the line it was found on.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// The longest row accepted (a guard against a file with no line breaks, or an unclosed quote).
    public let maxRowBytes: Int
    private var pending: [UInt8] = []
    /// How far `pending` has been scanned, and whether that point is inside quotes.
    private var scanned = 0
    private var inQuotes = false
    /// The line the pending row starts on, and the lines it spans so far.
    private var rowLine = 1
    private var rowBreaks = 0

    public init(maxRowBytes: Int = 64 * 1024) {
        self.maxRowBytes = maxRowBytes
    }

    /// The complete rows in what has been fed so far (the rest waits for the next piece).
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) throws -> [Row] where Bytes.Element == UInt8 {
        pending.append(contentsOf: bytes)
        var rows: [Row] = []
        var start = 0
        var index = scanned
        while index < pending.count {
            let byte = pending[index]
            if byte == UInt8(ascii: "\"") {
                inQuotes.toggle()  // a doubled quote toggles twice: still inside
            } else if byte == UInt8(ascii: "\n") {
                if inQuotes {
                    rowBreaks += 1
                } else {
                    rows.append(try row(pending[start..<index]))
                    start = index + 1
                    rowLine += rowBreaks + 1
                    rowBreaks = 0
                }
            }
            index += 1
        }
        pending.removeFirst(start)
        scanned = pending.count
        if pending.count > maxRowBytes {
            throw Failure(line: rowLine, message: inQuotes ? "an unclosed quote" : "a row longer than \(maxRowBytes) bytes")
        }
        return rows
    }

    /// The last row, when the file does not end with a line break.
    public mutating func finish() throws -> [Row] {
        defer { pending = [] }
        guard !inQuotes else { throw Failure(line: rowLine, message: "an unclosed quote") }
        guard !pending.isEmpty else { return [] }
        return [try row(pending[...])]
    }

    /// Reads a whole file's rows at once.
    public static func rows<Bytes: Sequence>(_ bytes: Bytes) throws -> [Row] where Bytes.Element == UInt8 {
        var reader = CSVReader(maxRowBytes: .max)
        return try reader.feed(bytes) + reader.finish()
    }

    /// Splits one row's bytes into fields.
    private func row(_ raw: ArraySlice<UInt8>) throws -> Row {
        var bytes = raw
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw Failure(line: rowLine, message: "not UTF-8") }
        var fields: [String] = []
        var field = ""
        var quoted = false
        var atFieldStart = true
        var iterator = text.makeIterator()
        while let character = iterator.next() {
            if quoted {
                if character == "\"" {
                    // A doubled quote is a quote; a single one ends the quoted part.
                    var lookahead = iterator
                    if lookahead.next() == "\"" {
                        field.append("\"")
                        iterator = lookahead
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(character)
                }
            } else if character == "\"" && atFieldStart {
                quoted = true
                atFieldStart = false
            } else if character == "," {
                fields.append(field)
                field = ""
                atFieldStart = true
            } else {
                field.append(character)
                if character != " " { atFieldStart = false }
            }
        }
        fields.append(field)
        return Row(fields: fields, line: rowLine)
    }
}
