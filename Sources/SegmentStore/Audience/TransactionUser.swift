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

    /// The key of an event row this change wrote: its `xmin` (the transaction id's low 32 bits,
    /// what `events.xmin` holds) and the user, in one `Int64` (``rowKey(xmin:user:)``).
    var rowKey: Int64 { Self.rowKey(xmin: transaction % 4_294_967_296, user: Int64(user)) }

    static func rowKey(xmin: Int64, user: Int64) -> Int64 { xmin << 32 | user }
}
