import Synchronization

/// A time source tests move by hand: `now()` is a fixed start plus what
/// ``advance(by:)`` added, so cache expiry is tested without sleeping.
public final class ManualClock: Sendable {
    private let start = ContinuousClock.now
    private let offset = Mutex<Duration>(.zero)

    public init() {}

    /// The current manual time.
    public func now() -> ContinuousClock.Instant { start.advanced(by: offset.withLock { $0 }) }

    /// Moves time forward.
    public func advance(by duration: Duration) { offset.withLock { $0 += duration } }
}
