import Foundation
import SegmentRules

extension Dictionary where Key == String, Value == RuleValue {
    /// JSON object text for a `jsonb` bind. Written by hand: this runs for every
    /// ingested event, and Foundation's JSONSerialization was a large share of
    /// the server's CPU time per event.
    package var jsonText: String {
        guard !isEmpty else { return "{}" }
        var out = "{"
        out.reserveCapacity(count * 24)
        var first = true
        for (key, value) in self {
            if !first { out += "," }
            first = false
            JSONText.appendString(key, to: &out)
            out += ":"
            switch value {
            case .string(let text): JSONText.appendString(text, to: &out)
            case .number(let number): out += JSONText.number(number)
            case .bool(let flag): out += flag ? "true" : "false"
            case .time(let date):
                JSONText.appendString(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)), to: &out)
            case .list(let items):
                out += "["
                for (index, item) in items.enumerated() {
                    if index > 0 { out += "," }
                    JSONText.appendString(item, to: &out)
                }
                out += "]"
            }
        }
        out += "}"
        return out
    }
}

extension Dictionary where Key == String, Value == RuleValue {
    /// Reads back a JSON object written by ``jsonText``: strings become times where the
    /// catalog types them as timestamps (`type` answers per key); everything else keeps its JSON type.
    package init(storedJSON json: String, type: (String) -> ValueType?) throws {
        let raw = try StoredJSONReader.object(json) ?? JSONDecoder().decode([String: StoredJSONValue].self, from: Data(json.utf8)).map { $0 }
        var values: [String: RuleValue] = [:]
        values.reserveCapacity(raw.count)
        for (key, value) in raw {
            switch (value, type(key)) {
            case (.string(let text), .timestamp?):
                if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
                    values[key] = .time(date)
                } else if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) {
                    values[key] = .time(date)
                }  // Ingest enforces the type, so a timestamp always parses; anything else is no value.
            case (.string(let text), _): values[key] = .string(text)
            case (.number(let number), _): values[key] = .number(number)
            case (.bool(let flag), _): values[key] = .bool(flag)
            case (.list(let items), _): values[key] = .list(items)
            }
        }
        self = values
    }
}
