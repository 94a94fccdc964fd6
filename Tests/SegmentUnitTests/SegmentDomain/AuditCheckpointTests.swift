import Crypto
import Foundation
import SegmentDomain
import Testing

@Suite("Audit checkpoints: one signed JSON line each; the verifier trusts a line only when signed by the key and matching the chain")
struct AuditCheckpointTests {
    static let acme = TenantID("acme")!
    static let other = TenantID("other")!
    static let time = Date(timeIntervalSince1970: 1_767_225_600.75)

    static func hash(_ n: Int) -> String { String(repeating: String(format: "%02x", n), count: 32) }

    /// A chain whose entry `n` has hash `hash(n)`, up to `head`.
    static func chain(head: Int64) -> @Sendable (Int64) async throws -> String? {
        { sequence in sequence <= head ? hash(Int(sequence)) : nil }
    }

    static func line(_ sequence: Int64, chain: TenantID = acme, hash: String? = nil, key: Curve25519.Signing.PrivateKey) throws -> String {
        try AuditCheckpoint.signed(chain: chain, sequence: sequence, hash: hash ?? Self.hash(Int(sequence)), time: time, key: key).jsonLine
    }

    @Test("a line round-trips, its signature verifies, and editing any field breaks it")
    func lineAndSignature() throws {
        let key = Curve25519.Signing.PrivateKey()
        let checkpoint = try AuditCheckpoint.signed(chain: Self.acme, sequence: 1000, hash: Self.hash(7).uppercased(), time: Self.time, key: key)
        #expect(checkpoint.hash == Self.hash(7), "kept lowercase, as the API shows hashes")
        #expect(checkpoint.hasValidSignature)
        let line = checkpoint.jsonLine
        #expect(!line.contains("\n"))
        #expect(line.contains(#""time":"2026-01-01T00:00:00Z""#), "to the second")
        let read = try AuditCheckpoint(jsonLine: line)
        #expect(read == checkpoint)
        #expect(read.hasValidSignature)

        for (field, edited) in [
            ("sequence", line.replacingOccurrences(of: #""sequence":1000"#, with: #""sequence":1001"#)),
            ("hash", line.replacingOccurrences(of: Self.hash(7), with: Self.hash(8))),
            ("chain", line.replacingOccurrences(of: #""chain":"acme""#, with: #""chain":"acmf""#)),
            ("time", line.replacingOccurrences(of: "2026-01-01T00:00:00Z", with: "2026-01-01T00:00:01Z")),
        ] {
            #expect(edited != line)
            #expect(try AuditCheckpoint(jsonLine: edited).hasValidSignature == false, "\(field) edited")
        }
        #expect(throws: DomainError.self) { try AuditCheckpoint(jsonLine: "{}") }
        #expect(throws: DomainError.self) { try AuditCheckpoint(jsonLine: line.replacingOccurrences(of: Self.hash(7), with: "zz")) }
    }

    @Test("the verifier counts matches, checks other chains' signatures only, and reports a rewritten or missing entry at its line")
    func verifierAgainstTheChain() async throws {
        let key = Curve25519.Signing.PrivateKey()
        let text = [
            try Self.line(3, key: key), "", try Self.line(3, chain: Self.other, hash: Self.hash(99), key: key), try Self.line(6, key: key),
        ].joined(separator: "\n")
        let verifier = AuditCheckpointVerifier(trustedKey: key.publicKey)
        let good = try await verifier.verify(text, chain: Self.acme, hashAt: Self.chain(head: 10))
        #expect(good.ok)
        #expect(good.matched == 2)
        #expect(good.otherChains == 1)
        #expect(good.latestSequence == 6)
        #expect(good.keyPinned)

        let rewritten = try await verifier.verify(text, chain: Self.acme) { sequence in sequence == 6 ? Self.hash(42) : Self.hash(Int(sequence)) }
        #expect(rewritten.problem?.kind == .hashMismatch)
        #expect(rewritten.problem?.line == 4)
        #expect(rewritten.problem?.signedHash == Self.hash(6))
        #expect(rewritten.problem?.chainHash == Self.hash(42))
        #expect(rewritten.matched == 1)

        let truncated = try await verifier.verify(text, chain: Self.acme, hashAt: Self.chain(head: 5))
        #expect(truncated.problem?.kind == .missingEntry)
        #expect(truncated.problem?.sequence == 6)

        let garbled = try await verifier.verify(text + "\nnot json", chain: Self.acme, hashAt: Self.chain(head: 10))
        #expect(garbled.problem?.kind == .unreadable)
        #expect(garbled.problem?.line == 5)
    }

    @Test("a forged line, a line signed by another key, and a file that switches keys are refused")
    func forgedLines() async throws {
        let key = Curve25519.Signing.PrivateKey()
        let attacker = Curve25519.Signing.PrivateKey()
        // The database owner rewrote entry 6 (now hash(42)) and edits the checkpoint to match.
        let edited = try Self.line(6, key: key).replacingOccurrences(of: Self.hash(6), with: Self.hash(42))
        let rewrittenChain: @Sendable (Int64) async throws -> String? = { $0 == 6 ? Self.hash(42) : Self.hash(Int($0)) }
        let pinned = AuditCheckpointVerifier(trustedKey: key.publicKey)
        #expect(try await pinned.verify(edited, chain: Self.acme, hashAt: rewrittenChain).problem?.kind == .badSignature)

        // Or signs a new checkpoint with a key of their own: the pinned key refuses it…
        let resigned = try Self.line(6, hash: Self.hash(42), key: attacker)
        #expect(try await pinned.verify(resigned, chain: Self.acme, hashAt: rewrittenChain).problem?.kind == .untrustedKey)
        // …and without a pinned key, a file whose lines change keys is refused.
        let unpinned = AuditCheckpointVerifier(trustedKey: nil)
        let mixed = [try Self.line(3, key: key), resigned].joined(separator: "\n")
        let report = try await unpinned.verify(mixed, chain: Self.acme, hashAt: rewrittenChain)
        #expect(report.problem?.kind == .keyChanged)
        #expect(report.problem?.line == 2)
        #expect(report.signingKey == key.publicKey.rawRepresentation.base64EncodedString())
        #expect(!report.keyPinned)
    }

    @Test("a public key reads from base64 of its 32 bytes, and nothing else")
    func publicKeyText() throws {
        let key = Curve25519.Signing.PrivateKey().publicKey
        #expect(try AuditCheckpoint.publicKey(base64: key.rawRepresentation.base64EncodedString() + "\n").rawRepresentation == key.rawRepresentation)
        #expect(throws: DomainError.self) { try AuditCheckpoint.publicKey(base64: "not a key") }
        #expect(throws: DomainError.self) { try AuditCheckpoint.publicKey(base64: Data(count: 31).base64EncodedString()) }
    }
}
