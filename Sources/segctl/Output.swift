import Foundation
import SwiftProtobuf

/// Prints rows as an aligned table with a header, for people.
func printTable(_ header: [String], _ rows: [[String]]) {
    guard !rows.isEmpty else {
        print("(none)")
        return
    }
    var widths = header.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
    }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { index, cell in
            index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
    print(line(header))
    for row in rows { print(line(row)) }
}

/// Prints protobuf messages as JSON (proto field names), for scripts.
func printJSON<Message: SwiftProtobuf.Message>(_ messages: [Message]) throws {
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    let items = try messages.map { try $0.jsonString(options: options) }
    let text = "[" + items.joined(separator: ",") + "]"
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
    let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: pretty, as: UTF8.self))
}

/// Prints one message as JSON.
func printJSON<Message: SwiftProtobuf.Message>(_ message: Message) throws {
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    let object = try JSONSerialization.jsonObject(with: Data(try message.jsonString(options: options).utf8))
    let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: pretty, as: UTF8.self))
}

/// A timestamp for tables: `2026-11-29 11:40:03Z`, or `-`.
func show(_ timestamp: Google_Protobuf_Timestamp?, set: Bool = true) -> String {
    guard let timestamp, set, timestamp.seconds != 0 || timestamp.nanos != 0 else { return "-" }
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.locale = Locale(identifier: "en_US_POSIX")
    return formatter.string(from: timestamp.date)
}

/// Parses `30d`, `12h`, `45m`, `90s` or `0`.
func parseDuration(_ text: String) -> Duration? {
    if text == "0" { return .zero }
    guard let unit = text.last, let amount = Int64(text.dropLast()), amount >= 0 else { return nil }
    switch unit {
    case "s": return .seconds(amount)
    case "m": return .seconds(amount * 60)
    case "h": return .seconds(amount * 3600)
    case "d": return .seconds(amount * 86_400)
    default: return nil
    }
}

/// Parses an RFC 3339 time, or a duration from now (`30d`).
func parseTime(_ text: String) -> Date? {
    if let duration = parseDuration(text) {
        return Date().addingTimeInterval(Double(duration.components.seconds))
    }
    return try? Date(text, strategy: .iso8601)
}

/// The last path component of a resource name.
func shortID(_ name: String) -> String {
    String(name.split(separator: "/").last ?? Substring(name))
}
