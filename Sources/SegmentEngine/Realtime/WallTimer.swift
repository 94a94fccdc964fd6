import Foundation

/// Sleeps until a wall-clock instant: real-time segments wait for their next
/// window edge on it. Tests inject one driven by a manual clock, so a user
/// leaves "in last 24h" when the test moves time past the edge, without waiting.
public protocol WallTimer: Sendable {
    /// Returns at `deadline` (or later); throws `CancellationError` when cancelled.
    func sleep(until deadline: Date) async throws
}

/// Sleeps on the system clock, looking at the wall clock again after each nap
/// (a wall clock can jump; sleeps are at most a minute).
public struct SystemWallTimer: WallTimer {
    let clock: @Sendable () -> Date

    public init(clock: @escaping @Sendable () -> Date = { Date() }) {
        self.clock = clock
    }

    public func sleep(until deadline: Date) async throws {
        while true {
            let remaining = deadline.timeIntervalSince(clock())
            if remaining <= 0 { return }
            try await Task.sleep(for: .microseconds(Int64(min(remaining, 60) * 1_000_000) + 1))
        }
    }
}
