import Foundation
import SegmentDomain
import SegmentdAPI
import SwiftProtobuf

/// Reads NDJSON or CSV records into protobuf messages for `segctl ingest`.
///
/// NDJSON: one object per line with the message's fields (`user_id`, `name`,
/// `time`, `message_id`, `properties`, `attributes`, `campaign_id`, `kind`,
/// `latitude`, `longitude`). Values: strings, numbers, booleans, lists of
/// strings, and `{"$timestamp": "RFC 3339"}` for times.
/// CSV: a header row; the known columns fill those fields and every other
/// column becomes a property (events) or attribute (profiles); numbers and
/// `true`/`false` are typed as such.
struct RecordFile {
    enum Kind: String, CaseIterable {
        case events, profiles, responses, locations
    }

    struct BadLine: Error, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "line \(line): \(reason)" }
    }

    /// NDJSON: the lines with their numbers. CSV: the rows after the header (a quoted field may span lines).
    let lines: [(line: Int, text: Substring)]
    let rows: [CSVReader.Row]
    let csv: Bool
    let header: [String]

    init(path: String, format: String?) throws {
        csv = (format ?? (path.hasSuffix(".csv") ? "csv" : "ndjson")) == "csv"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        if csv {
            let all: [CSVReader.Row]
            do {
                all = try CSVReader.rows(data).filter { !$0.isBlank }
            } catch let failure as CSVReader.Failure {
                throw BadLine(line: failure.line, reason: failure.message)
            }
            guard let first = all.first else { throw BadLine(line: 1, reason: "the CSV file has no header row") }
            header = first.fields
            rows = Array(all.dropFirst())
            lines = []
        } else {
            guard let text = String(data: data, encoding: .utf8) else { throw BadLine(line: 1, reason: "the file is not UTF-8") }
            lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, line in
                let trimmed = line.hasSuffix("\r") ? line.dropLast() : line
                return trimmed.isEmpty ? nil : (index + 1, trimmed)
            }
            rows = []
            header = []
        }
    }

    /// Records in the file.
    var count: Int { csv ? rows.count : lines.count }

    /// The 1-based line of record `index` in the file.
    func lineNumber(_ index: Int) -> Int { csv ? rows[index].line : lines[index].line }

    func object(_ index: Int) throws -> [String: JSONValue] {
        if csv {
            let fields = rows[index].fields
            guard fields.count == header.count else {
                throw BadLine(line: lineNumber(index), reason: "\(fields.count) fields; the header has \(header.count)")
            }
            var object: [String: JSONValue] = [:]
            var extra: [String: JSONValue] = [:]
            let known: Set<String> = ["user_id", "name", "time", "message_id", "campaign_id", "kind", "latitude", "longitude"]
            for (key, raw) in zip(header, fields) where !raw.isEmpty {
                let typed: JSONValue = Double(raw).map { .number($0) } ?? (raw == "true" ? .bool(true) : raw == "false" ? .bool(false) : .string(raw))
                if known.contains(key) { object[key] = key == "latitude" || key == "longitude" ? typed : .string(raw) } else { extra[key] = typed }
            }
            object["properties"] = .object(extra)
            object["attributes"] = .object(extra)
            return object
        }
        guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(lines[index].text.utf8)) else {
            throw BadLine(line: lineNumber(index), reason: "not a JSON object")
        }
        return object
    }

    static func string(_ object: [String: JSONValue], _ key: String) -> String {
        if case .string(let text)? = object[key] { return text }
        return ""
    }

    static func number(_ object: [String: JSONValue], _ key: String) -> Double? {
        if case .number(let value)? = object[key] { return value }
        return nil
    }

    static func time(_ object: [String: JSONValue], _ key: String, line: Int) throws -> Google_Protobuf_Timestamp? {
        let text = string(object, key)
        guard !text.isEmpty else { return nil }
        guard let date = try? Date(text, strategy: .iso8601) else { throw BadLine(line: line, reason: "\(key) is not an RFC 3339 time") }
        return .init(date: date)
    }

    static func values(_ raw: JSONValue?, line: Int) throws -> [String: Segmentd_V1_Value] {
        guard case .object(let dictionary)? = raw else { return [:] }
        var values: [String: Segmentd_V1_Value] = [:]
        for (key, item) in dictionary {
            var value = Segmentd_V1_Value()
            switch item {
            case .string(let text): value.stringValue = text
            case .number(let number): value.numberValue = number
            case .bool(let flag): value.boolValue = flag
            case .array(let items):
                let strings = items.compactMap { item -> String? in if case .string(let text) = item { return text } else { return nil } }
                guard strings.count == items.count else { throw BadLine(line: line, reason: "\(key): lists hold strings only") }
                value.stringListValue = .with { $0.values = strings }
            case .object(let wrapped):
                guard case .string(let text)? = wrapped["$timestamp"], let date = try? Date(text, strategy: .iso8601) else {
                    throw BadLine(line: line, reason: "\(key): objects are only {\"$timestamp\": \"RFC 3339\"}")
                }
                value.timestampValue = .init(date: date)
            case .null: continue
            }
            values[key] = value
        }
        return values
    }

    func event(_ index: Int) throws -> Segmentd_V1_Event {
        let object = try object(index)
        let line = lineNumber(index)
        return try .with {
            $0.userID = Self.string(object, "user_id")
            $0.name = Self.string(object, "name")
            if let time = try Self.time(object, "time", line: line) { $0.time = time }
            $0.messageID = Self.string(object, "message_id")
            $0.properties = try Self.values(object["properties"], line: line)
        }
    }

    func profile(_ index: Int) throws -> Segmentd_V1_Profile {
        let object = try object(index)
        let line = lineNumber(index)
        return try .with {
            $0.userID = Self.string(object, "user_id")
            $0.attributes = try Self.values(object["attributes"], line: line)
            if case .object(let location)? = object["last_location"],
                let latitude = Self.number(location, "latitude"), let longitude = Self.number(location, "longitude")
            {
                $0.lastLocation = .with {
                    $0.latitude = latitude
                    $0.longitude = longitude
                }
            }
        }
    }

    func response(_ index: Int) throws -> Segmentd_V1_CampaignResponse {
        let object = try object(index)
        let line = lineNumber(index)
        let kinds: [String: Segmentd_V1_ResponseKind] = ["received": .received, "opened": .opened, "clicked": .clicked, "converted": .converted]
        guard let kind = kinds[Self.string(object, "kind").lowercased()] else {
            throw BadLine(line: line, reason: "kind must be received, opened, clicked or converted")
        }
        return try .with {
            $0.userID = Self.string(object, "user_id")
            $0.campaignID = Self.string(object, "campaign_id")
            $0.kind = kind
            if let time = try Self.time(object, "time", line: line) { $0.time = time }
        }
    }

    func location(_ index: Int) throws -> Segmentd_V1_LocationUpdate {
        let object = try object(index)
        let line = lineNumber(index)
        guard let latitude = Self.number(object, "latitude"), let longitude = Self.number(object, "longitude") else {
            throw BadLine(line: line, reason: "latitude and longitude must be numbers")
        }
        return try .with {
            $0.userID = Self.string(object, "user_id")
            $0.point = .with {
                $0.latitude = latitude
                $0.longitude = longitude
            }
            if let time = try Self.time(object, "time", line: line) { $0.time = time }
        }
    }
}

/// Any JSON value, decoded without Foundation's number/bool ambiguity.
enum JSONValue: Decodable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    init(from decoder: any Swift.Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let items = try? container.decode([JSONValue].self) {
            self = .array(items)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }
}
