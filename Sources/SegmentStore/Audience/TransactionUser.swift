import Foundation

/// One transaction's change to one user, as the catch-up excludes what was applied directly.
public struct TransactionUser: Sendable, Hashable {
    /// The full transaction id (`xid8`).
    public var transaction: Int64
    public var user: UInt32

    public init(transaction: Int64, user: UInt32) {
        self.transaction = transaction
        self.user = user
    }
}
