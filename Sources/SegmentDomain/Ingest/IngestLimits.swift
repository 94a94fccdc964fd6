import Foundation
import SegmentRules

/// The documented limits of ingestion. A batch over a limit is rejected whole
/// with every offending record listed; nothing is truncated silently.
public struct IngestLimits: Sendable {
    /// Records in one batch (RESOURCE_EXHAUSTED above).
    public var recordsPerBatch = 1000
    /// Properties on one event.
    public var propertiesPerEvent = 50
    /// Attributes in one profile upsert, and on a stored profile.
    public var attributesPerProfile = 200
    /// Length of a user id.
    public var userIDLength = 200
    /// Length of a message id or campaign id.
    public var idLength = 128
    /// Length of a string value, in characters.
    public var stringValueLength = 4096
    /// Items in a string list value.
    public var listItems = 100
    /// How far in the future an event time may be (clock skew).
    public var futureSkew: TimeInterval = 300
    /// How far in the past an event time may be.
    public var pastLimit: TimeInterval = 5 * 365 * 86_400

    public init() {}

    /// Names of events, properties, attributes and tags: 1-64 of `[a-z0-9_]`, starting with a letter.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = name.utf8  // no copy: names are checked on every request
        guard (1...64).contains(bytes.count), let first = bytes.first,
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first)
        else { return false }
        return bytes.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_")
        }
    }

    /// Reserved profile attributes and their fixed types.
    public static let reservedAttributes: [String: ValueType] = [
        "language": .string, "city": .string, "country": .string, "time_zone": .string,
    ]
}

/// One bad record of a rejected batch.
public struct RecordViolation: Sendable, Equatable, CustomStringConvertible {
    /// The record's position in the batch.
    public let index: Int
    /// The field, relative to the record (`properties.amount`).
    public let field: String
    /// What is wrong.
    public let reason: String

    public init(index: Int, field: String, reason: String) {
        self.index = index
        self.field = field
        self.reason = reason
    }

    public var description: String { "record \(index) \(field): \(reason)" }
}

/// A batch was rejected whole; every bad record is listed.
public struct BatchRejected: Error, Sendable, CustomStringConvertible {
    /// The records and fields at fault.
    public let violations: [RecordViolation]
    /// True when a size limit was exceeded (RESOURCE_EXHAUSTED rather than INVALID_ARGUMENT).
    public let overLimit: Bool

    public init(_ violations: [RecordViolation], overLimit: Bool = false) {
        self.violations = violations
        self.overLimit = overLimit
    }

    public var description: String {
        "the batch was rejected: \(violations.count) bad record(s); first: \(violations.first?.description ?? "-")"
    }
}
