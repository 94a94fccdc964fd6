/// A tenant's id, as used in resource names (`tenants/acme/...`).
///
/// 2-40 characters of lowercase ASCII letters, digits and `-`, starting with a
/// letter and not ending with `-`.
public struct TenantID: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The id.
    public let rawValue: String

    /// Validates `rawValue`; nil when it is not a valid tenant id.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// Whether `candidate` is a valid tenant id.
    public static func isValid(_ candidate: String) -> Bool {
        let bytes = candidate.utf8  // no copy: a check runs on every request
        guard (2...40).contains(bytes.count), let first = bytes.first, let last = bytes.last else { return false }
        guard (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first), last != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
        }
    }

    /// The reserved tenant that holds platform-operator keys.
    public static let platform = TenantID("platform")!

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let id = TenantID(raw) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid tenant id"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
