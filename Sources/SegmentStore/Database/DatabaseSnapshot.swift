import Foundation

/// Which transactions a `pg_snapshot` sees: `xmin:xmax:xip,…` (every transaction
/// below `xmin` has ended; none at or above `xmax` had started; `xip` were running).
public struct DatabaseSnapshot: Sendable, Equatable {
    public var xmin: Int64
    public var xmax: Int64
    public var running: Set<Int64>

    /// Parses `pg_snapshot` text; nil when it is not one.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let xmin = Int64(parts[0]), let xmax = Int64(parts[1]) else { return nil }
        var running = Set<Int64>()
        for xid in parts[2].split(separator: ",") {
            guard let value = Int64(xid) else { return nil }
            running.insert(value)
        }
        self.xmin = xmin
        self.xmax = xmax
        self.running = running
    }

    /// Whether a transaction that committed is visible in the snapshot (`pg_visible_in_snapshot`).
    public func sees(_ transaction: Int64) -> Bool {
        transaction < xmin || (transaction < xmax && !running.contains(transaction))
    }
}
