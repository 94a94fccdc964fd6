import Foundation

/// The outcome of recomputing a tenant's chain.
public struct AuditVerification: Sendable, Equatable {
    /// True when every hash matches and no sequence number is missing.
    public let ok: Bool
    /// Entries checked.
    public let checked: Int64
    /// The first wrong sequence number (0 when ok).
    public let firstBadSequence: Int64
    /// `hash mismatch`, `broken link` or `gap`.
    public let problem: String
    /// The chain head's sequence number.
    public let headSequence: Int64

    package init(ok: Bool, checked: Int64, firstBadSequence: Int64, problem: String, headSequence: Int64) {
        self.ok = ok
        self.checked = checked
        self.firstBadSequence = firstBadSequence
        self.problem = problem
        self.headSequence = headSequence
    }
}
