import Foundation

/// Minimal JSON text writing for hot paths (ingest, exports).
public enum JSONText {
    /// Appends `text` as a JSON string literal, escaping what JSON requires.
    public static func appendString(_ text: String, to out: inout String) {
        out += "\""
        var needsEscaping = false
        for unit in text.utf8 where unit < 0x20 || unit == UInt8(ascii: "\"") || unit == UInt8(ascii: "\\") {
            needsEscaping = true
            break
        }
        if !needsEscaping {
            out += text
        } else {
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20:
                    out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
                default: out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    /// A finite number as JSON (integers without a fraction).
    package static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
