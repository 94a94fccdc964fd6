import Foundation

/// A value in an audit entry's before/after fields. Never a secret.
public enum AuditValue: Sendable, Equatable, Codable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case strings([String])
    /// A structured value (a schedule), kept as a JSON object rather than JSON text in a string.
    case object([String: AuditValue])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([String].self) {
            self = .strings(value)
        } else {
            self = .object(try container.decode([String: AuditValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .strings(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    /// A time, as RFC 3339 text.
    public static func time(_ date: Date?) -> AuditValue {
        guard let date else { return .null }
        return .string(date.formatted(.iso8601))
    }
}

/// Named fields of a resource before or after a change.
public typealias AuditFields = [String: AuditValue]

extension Dictionary where Key == String, Value == AuditValue {
    /// Sorted-key JSON text, for a jsonb bind.
    package var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }

    /// Only the fields whose value differs from `other`'s.
    public func changed(from other: AuditFields) -> AuditFields {
        filter { other[$0.key] != $0.value }
    }
}
