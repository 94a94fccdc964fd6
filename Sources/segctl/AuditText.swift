import Foundation
import SegmentdAPI
import SwiftProtobuf

/// How `segctl audit list` and `tail` show an entry to a person: the key by prefix and
/// name, and a change as `field: old → new`.
enum AuditText {
    /// `key sgd_live_a1b2c3… (ci-deployer)` for a key; `anonymous key sgd_…` for a
    /// refused key; otherwise the actor's name (`system`, `jobs/12`).
    static func actor(_ event: Segmentd_V1_AuditEvent) -> String {
        let display = event.actor.display
        let isKey = event.actor.name.contains("/apiKeys/")
        guard isKey || !display.isEmpty else { return event.actor.name }
        var text = display.isEmpty ? event.actor.name : "key \(display)…"
        if !isKey { text = "\(event.actor.name) \(text)" }
        if !event.actorKeyDisplayName.isEmpty { text += " (\(event.actorKeyDisplayName))" }
        return text
    }

    /// The change: each field recorded on both sides whose value differs as
    /// `field: old → new`, and each field recorded only after as `field: new` (a
    /// creation's fields, a roll's new key); a removal's fields as `field: old → none`.
    /// Fields are sorted by name and joined by `; `.
    static func change(_ event: Segmentd_V1_AuditEvent) -> String {
        let before = event.hasBefore ? event.before.fields : [:]
        let after = event.hasAfter ? event.after.fields : [:]
        if !event.hasAfter {
            return before.keys.sorted().map { "\($0): \(value(before[$0])) → none" }.joined(separator: "; ")
        }
        // Entries record the whole resource on both sides or only the changed fields:
        // either way the fields that differ are the change. A field recorded only
        // before (the rest of a snapshot beside a one-field after) is left out.
        let parts = after.keys.sorted().compactMap { field -> String? in
            guard let old = before[field] else { return "\(field): \(value(after[field]))" }
            return old == after[field] ? nil : "\(field): \(value(old)) → \(value(after[field]))"
        }
        return parts.isEmpty ? "no change" : parts.joined(separator: "; ")
    }

    /// A value as a person reads it: strings quoted (so an empty one shows), whole
    /// numbers without a fraction, lists in brackets, objects in braces.
    static func value(_ value: Google_Protobuf_Value?) -> String {
        guard let kind = value?.kind else { return "none" }
        switch kind {
        case .nullValue: return "none"
        case .numberValue(let number):
            return number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .stringValue(let text):
            // Entries written before structured values held some (a schedule) as JSON text.
            if text.hasPrefix("{"), let object = try? Google_Protobuf_Struct(jsonString: text) {
                return Self.value(Google_Protobuf_Value(structValue: object))
            }
            return quoted(text)
        case .boolValue(let flag): return String(flag)
        case .listValue(let list): return "[" + list.values.map { Self.value($0) }.joined(separator: ", ") + "]"
        case .structValue(let object):
            return "{" + object.fields.keys.sorted().map { "\($0): \(Self.value(object.fields[$0]))" }.joined(separator: ", ") + "}"
        }
    }

    /// `text` in double quotes, with quotes, backslashes and control characters escaped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
