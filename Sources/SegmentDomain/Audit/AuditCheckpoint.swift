import Crypto
import Foundation

/// A signed statement that a tenant's audit chain had `hash` at `sequence`.
///
/// The database owner can rewrite an entry and recompute every hash after it,
/// and the chain verifies again. A checkpoint is signed with an Ed25519 key that
/// segmentd holds and the database does not, so once written (to a file, to the
/// log) a rewrite before its sequence shows as a different hash there.
///
/// One checkpoint is one JSON line:
///
/// ```json
/// {"chain":"acme","hash":"3f…","public_key":"…","sequence":1000,"signature":"…","time":"2026-01-02T03:04:05Z"}
/// ```
///
/// The signature covers a version tag and every field but the key, each
/// length-prefixed (``signedBytes``).
public struct AuditCheckpoint: Sendable, Equatable {
    /// The chain: the tenant.
    public let chain: TenantID
    /// The entry whose hash is signed.
    public let sequence: Int64
    /// That entry's hash, lowercase hex (as the API and `segctl audit list` show it).
    public let hash: String
    /// When the checkpoint was signed, to the second.
    public let time: Date
    /// The Ed25519 signature of ``signedBytes``.
    public let signature: Data
    /// The signing key's public half (32 bytes).
    public let publicKey: Data

    /// Signs `hash` at `sequence` of `chain` with `key`.
    public static func signed(
        chain: TenantID, sequence: Int64, hash: String, time: Date, key: Curve25519.Signing.PrivateKey
    ) throws -> AuditCheckpoint {
        let time = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))
        let hash = hash.lowercased()
        let signature = try key.signature(for: signedBytes(chain: chain, sequence: sequence, hash: hash, time: time))
        return AuditCheckpoint(
            chain: chain, sequence: sequence, hash: hash, time: time, signature: signature, publicKey: key.publicKey.rawRepresentation)
    }

    init(chain: TenantID, sequence: Int64, hash: String, time: Date, signature: Data, publicKey: Data) {
        self.chain = chain
        self.sequence = sequence
        self.hash = hash
        self.time = time
        self.signature = signature
        self.publicKey = publicKey
    }

    /// True when ``signature`` is ``publicKey``'s signature of this checkpoint's fields.
    public var hasValidSignature: Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: Self.signedBytes(chain: chain, sequence: sequence, hash: hash, time: time))
    }

    /// What is signed: a version tag, then the chain, sequence, hash and time, each
    /// as an 8-byte big-endian length and its UTF-8 bytes (the sequence as 8 bytes).
    static func signedBytes(chain: TenantID, sequence: Int64, hash: String, time: Date) -> Data {
        var bytes = Data("segmentd.audit.checkpoint.v1".utf8)
        func append(_ value: Int64) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
        func append(_ text: String) {
            let utf8 = Data(text.utf8)
            append(Int64(utf8.count))
            bytes.append(utf8)
        }
        append(chain.rawValue)
        append(sequence)
        append(hash)
        append(timeText(time))
        return bytes
    }

    static func timeText(_ time: Date) -> String {
        time.formatted(.iso8601)
    }

    /// The line's fields as written.
    private struct Line: Codable {
        var chain: String
        var sequence: Int64
        var hash: String
        var time: String
        var signature: String
        var public_key: String
    }

    /// The checkpoint as one line of JSON (no newline).
    public var jsonLine: String {
        let line = Line(
            chain: chain.rawValue, sequence: sequence, hash: hash, time: Self.timeText(time),
            signature: signature.base64EncodedString(), public_key: publicKey.base64EncodedString())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings and numbers cannot fail.
        return String(decoding: (try? encoder.encode(line)) ?? Data(), as: UTF8.self)
    }

    /// Reads one JSON line; throws `invalidArgument` saying what is wrong with it.
    /// The signature is not checked here (``hasValidSignature``).
    public init(jsonLine: String) throws {
        guard let line = try? JSONDecoder().decode(Line.self, from: Data(jsonLine.utf8)) else {
            throw DomainError.invalid("checkpoint", "not a checkpoint line (a JSON object with chain, sequence, hash, time, signature, public_key)")
        }
        guard let chain = TenantID(line.chain) else { throw DomainError.invalid("checkpoint.chain", "'\(line.chain)' is not a tenant id") }
        guard line.sequence > 0 else { throw DomainError.invalid("checkpoint.sequence", "must be positive") }
        guard line.hash.count == 64, line.hash.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw DomainError.invalid("checkpoint.hash", "expected 64 lowercase hex digits")
        }
        guard let time = try? Date(line.time, strategy: .iso8601) else {
            throw DomainError.invalid("checkpoint.time", "expected an RFC 3339 time such as 2026-01-02T03:04:05Z")
        }
        guard let signature = Data(base64Encoded: line.signature) else { throw DomainError.invalid("checkpoint.signature", "not base64") }
        guard let publicKey = Data(base64Encoded: line.public_key) else { throw DomainError.invalid("checkpoint.public_key", "not base64") }
        self.init(chain: chain, sequence: line.sequence, hash: line.hash, time: time, signature: signature, publicKey: publicKey)
    }

    /// Reads a public key given as base64 of its 32 bytes (as `checkpoint-signing.pub` holds it).
    public static func publicKey(base64 text: String) throws -> Curve25519.Signing.PublicKey {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: data)
        else {
            throw DomainError.invalid("public_key", "expected an Ed25519 public key: base64 of 32 bytes")
        }
        return key
    }
}
