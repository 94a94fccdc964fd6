import Foundation

/// The type of an attribute or event property: inferred on first sight, then enforced.
public enum ValueType: String, Sendable, Equatable, CaseIterable {
    case string, number, bool, timestamp
    case stringList = "string_list"
}

/// A typed value of a profile attribute or event property.
public enum IngestValue: Sendable, Equatable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case timestamp(Date)
    case stringList([String])

    public var type: ValueType {
        switch self {
        case .string: return .string
        case .number: return .number
        case .bool: return .bool
        case .timestamp: return .timestamp
        case .stringList: return .stringList
        }
    }
}

extension Dictionary where Key == String, Value == IngestValue {
    /// JSON object text for a `jsonb` bind. Written by hand: this runs for every
    /// ingested event, and Foundation's JSONSerialization was a large share of
    /// the server's CPU time per event.
    var jsonText: String {
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
            case .timestamp(let date):
                JSONText.appendString(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)), to: &out)
            case .stringList(let items):
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
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

/// A profile to upsert.
public struct ProfileInput: Sendable {
    public var userID: String
    public var attributes: [String: IngestValue]
    /// Sets the last known location, if given.
    public var lastLocation: (latitude: Double, longitude: Double)?

    public init(userID: String, attributes: [String: IngestValue], lastLocation: (latitude: Double, longitude: Double)? = nil) {
        self.userID = userID
        self.attributes = attributes
        self.lastLocation = lastLocation
    }
}

/// An event to append.
public struct EventInput: Sendable {
    public var userID: String
    public var name: String
    /// Now when nil.
    public var time: Date?
    public var properties: [String: IngestValue]
    /// The client's de-duplication id; a random one when nil (no de-duplication).
    public var messageID: String?

    public init(userID: String, name: String, time: Date?, properties: [String: IngestValue], messageID: String?) {
        self.userID = userID
        self.name = name
        self.time = time
        self.properties = properties
        self.messageID = messageID
    }
}

/// Campaign response kinds.
public enum ResponseKind: String, Sendable, CaseIterable {
    case received, opened, clicked, converted
}

/// A response to a campaign.
public struct ResponseInput: Sendable {
    public var userID: String
    public var campaignID: String
    public var kind: ResponseKind
    public var time: Date?

    public init(userID: String, campaignID: String, kind: ResponseKind, time: Date?) {
        self.userID = userID
        self.campaignID = campaignID
        self.kind = kind
        self.time = time
    }
}

/// A location a user was seen at.
public struct LocationInput: Sendable {
    public var userID: String
    public var latitude: Double
    public var longitude: Double
    public var time: Date?

    public init(userID: String, latitude: Double, longitude: Double, time: Date?) {
        self.userID = userID
        self.latitude = latitude
        self.longitude = longitude
        self.time = time
    }
}

/// What a batch did.
public struct IngestResult: Sendable, Equatable {
    public var accepted: Int
    public var duplicates: Int
    public var newUsers: Int

    public init(accepted: Int = 0, duplicates: Int = 0, newUsers: Int = 0) {
        self.accepted = accepted
        self.duplicates = duplicates
        self.newUsers = newUsers
    }
}
