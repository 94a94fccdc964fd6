import Foundation
import Synchronization

/// Wall-clock time tests move by hand (schedules, leases, backoff) instead of sleeping.
public final class ManualWallClock: Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date) {
        current = Mutex(start)
    }

    public func now() -> Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}
