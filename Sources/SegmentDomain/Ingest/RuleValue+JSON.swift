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
