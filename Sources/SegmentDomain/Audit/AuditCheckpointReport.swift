import Foundation

/// The outcome of checking a checkpoint file against a tenant's live chain.
public struct AuditCheckpointReport: Sendable, Equatable {
    /// What is wrong with one line of the file, or with the chain where that line points.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// The kind of problem.
        public enum Kind: String, Sendable, Equatable {
            /// The line is not a checkpoint.
            case unreadable = "unreadable line"
            /// The signature does not match the line's fields: the line was edited.
            case badSignature = "bad signature"
            /// Signed by a key other than the trusted one.
            case untrustedKey = "untrusted key"
            /// Signed by a key other than the file's first line (no key was given to trust).
            case keyChanged = "key changed"
            /// The chain no longer has the entry the checkpoint names: entries were removed.
            case missingEntry = "missing entry"
            /// The chain's entry has another hash than the one signed: history up to it was rewritten.
            case hashMismatch = "hash mismatch"
        }

        /// The kind.
        public let kind: Kind
        /// The line of the file, from 1.
        public let line: Int
        /// The checkpoint's sequence number, when the line could be read.
        public let sequence: Int64?
        /// What the checkpoint signed, when it matters (a mismatch).
        public let signedHash: String?
        /// What the chain holds now, for a mismatch.
        public let chainHash: String?
        /// A sentence for people.
        public let message: String

        public var description: String { "line \(line): \(message)" }
    }

    /// Checkpoints of this chain that match it.
    public var matched = 0
    /// Checkpoints of other chains (their signatures were checked, their hashes not).
    public var otherChains = 0
    /// The highest sequence number of a matching checkpoint.
    public var latestSequence: Int64?
    /// The signing key (base64) of the lines read.
    public var signingKey: String?
    /// Whether a key to trust was given, or the file's own key was taken.
    public var keyPinned = false
    /// The first problem; reading stops there.
    public var problem: Problem?

    /// True when every line is signed by the key and every checkpoint of the chain matches it.
    public var ok: Bool { problem == nil }

    public init() {}
}
