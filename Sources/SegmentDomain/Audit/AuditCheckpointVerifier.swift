import Crypto
import Foundation

/// Checks signed checkpoints against a tenant's live audit chain: each line's
/// signature, the key that made it, and that the chain still has the signed hash
/// at the signed sequence.
///
/// It reads the chain through `hashAt`, so the same check runs over the API
/// (`segctl audit verify --checkpoints`) or over the store.
///
/// ```swift
/// let verifier = AuditCheckpointVerifier(trustedKey: try AuditCheckpoint.publicKey(base64: pinned))
/// let report = try await verifier.verify(fileText, chain: tenant) { sequence in
///     try await hashOfEntry(sequence)  // nil when the chain has no such entry
/// }
/// if let problem = report.problem { print(problem) }
/// ```
public struct AuditCheckpointVerifier: Sendable {
    /// The key every line must be signed by; nil takes the first line's key and
    /// requires the same key on every other line.
    public let trustedKey: Curve25519.Signing.PublicKey?

    public init(trustedKey: Curve25519.Signing.PublicKey?) {
        self.trustedKey = trustedKey
    }

    /// Checks every line of `text` (a checkpoint file: one JSON line each; blank
    /// lines are skipped) and stops at the first problem.
    ///
    /// - Parameters:
    ///   - text: The file's contents.
    ///   - chain: The tenant whose chain `hashAt` reads; other tenants' lines
    ///     have their signatures checked and are counted, not compared.
    ///   - hashAt: The hash (lowercase hex) of the chain's entry at a sequence
    ///     number, or nil when there is no such entry.
    public func verify(
        _ text: String, chain: TenantID, hashAt: (Int64) async throws -> String?
    ) async throws -> AuditCheckpointReport {
        var report = AuditCheckpointReport()
        report.keyPinned = trustedKey != nil
        let trusted = trustedKey?.rawRepresentation
        report.signingKey = trusted?.base64EncodedString()
        var fileKey: Data?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            let content = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if content.isEmpty { continue }
            func fail(
                _ kind: AuditCheckpointReport.Problem.Kind, _ sequence: Int64?, _ message: String, signed: String? = nil, chain: String? = nil
            ) -> AuditCheckpointReport {
                report.problem = .init(kind: kind, line: line, sequence: sequence, signedHash: signed, chainHash: chain, message: message)
                return report
            }
            let checkpoint: AuditCheckpoint
            do {
                checkpoint = try AuditCheckpoint(jsonLine: content)
            } catch let error as DomainError {
                return fail(.unreadable, nil, error.message)
            }
            if let trusted {
                guard checkpoint.publicKey == trusted else {
                    return fail(
                        .untrustedKey, checkpoint.sequence,
                        "signed by key \(checkpoint.publicKey.base64EncodedString()), not the trusted key \(trusted.base64EncodedString())")
                }
            } else if let fileKey {
                guard checkpoint.publicKey == fileKey else {
                    return fail(
                        .keyChanged, checkpoint.sequence,
                        "signed by key \(checkpoint.publicKey.base64EncodedString()), not \(fileKey.base64EncodedString()) like the lines before it")
                }
            } else {
                fileKey = checkpoint.publicKey
                report.signingKey = checkpoint.publicKey.base64EncodedString()
            }
            guard checkpoint.hasValidSignature else {
                return fail(.badSignature, checkpoint.sequence, "the signature does not match the line: it was edited after it was signed")
            }
            guard checkpoint.chain == chain else {
                report.otherChains += 1
                continue
            }
            guard let current = try await hashAt(checkpoint.sequence) else {
                return fail(
                    .missingEntry, checkpoint.sequence,
                    "the chain has no entry \(checkpoint.sequence), signed on \(AuditCheckpoint.timeText(checkpoint.time)): entries were removed",
                    signed: checkpoint.hash)
            }
            guard current.lowercased() == checkpoint.hash else {
                return fail(
                    .hashMismatch, checkpoint.sequence,
                    "entry \(checkpoint.sequence) has hash \(current), but \(checkpoint.hash) was signed on \(AuditCheckpoint.timeText(checkpoint.time)): entries up to \(checkpoint.sequence) were rewritten",
                    signed: checkpoint.hash, chain: current.lowercased())
            }
            report.matched += 1
            report.latestSequence = max(report.latestSequence ?? 0, checkpoint.sequence)
        }
        return report
    }
}
