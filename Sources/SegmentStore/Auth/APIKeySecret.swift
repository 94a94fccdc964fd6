import Crypto
import SegmentDomain

/// The plaintext of an API key: `sgd_live_` + 32 random base62 characters (190 bits)
/// + a 6-character checksum.
///
/// The checksum lets a mistyped or truncated key be rejected without a database
/// lookup. Only the SHA-256 of the whole string is stored.
public struct APIKeySecret: Sendable, Equatable {
    /// Every key starts with this, so it is recognisable in code, configs and leak scanners.
    public static let prefix = "sgd_live_"
    static let bodyLength = 32
    static let checksumLength = 6
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// The whole key. Show it once; never log it.
    public let plaintext: String

    private init(plaintext: String) { self.plaintext = plaintext }

    /// A new random key.
    public static func generate() -> APIKeySecret {
        var generator = SystemRandomNumberGenerator()
        let body = (0..<bodyLength).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] }
        let bodyString = String(decoding: body, as: UTF8.self)
        return APIKeySecret(plaintext: prefix + bodyString + checksum(of: bodyString))
    }

    /// Parses a key, checking its shape and checksum (no database involved).
    public init?(parsing candidate: String) {
        let expectedLength = Self.prefix.utf8.count + Self.bodyLength + Self.checksumLength
        guard candidate.utf8.count == expectedLength, candidate.hasPrefix(Self.prefix) else { return nil }
        let rest = candidate.utf8.dropFirst(Self.prefix.utf8.count)
        guard rest.allSatisfy({ Self.alphabet.contains($0) }) else { return nil }
        let body = String(decoding: rest.prefix(Self.bodyLength), as: UTF8.self)
        let checksum = String(decoding: rest.dropFirst(Self.bodyLength), as: UTF8.self)
        guard Self.checksum(of: body) == checksum else { return nil }
        self.plaintext = candidate
    }

    /// SHA-256 of the key: what the database stores and looks up.
    public var hash: [UInt8] { Array(SHA256.hash(data: Array(plaintext.utf8))) }

    /// The prefix plus the first 6 random characters, for recognising a key in lists.
    public var displayPrefix: String { String(plaintext.prefix(Self.prefix.count + 6)) }

    static func checksum(of body: String) -> String {
        let digest = Array(SHA256.hash(data: Array(("segmentd-key-checksum:" + body).utf8)))
        return String(decoding: digest.prefix(checksumLength).map { alphabet[Int($0) % alphabet.count] }, as: UTF8.self)
    }

    /// Compares two byte strings in time independent of where they differ.
    public static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}

/// Random ids for server-assigned resources (API keys, operations).
public enum ResourceID {
    static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)

    /// 12 random lowercase alphanumerics (62 bits).
    public static func random(length: Int = 12) -> String {
        var generator = SystemRandomNumberGenerator()
        return String(
            decoding: (0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] },
            as: UTF8.self)
    }
}
