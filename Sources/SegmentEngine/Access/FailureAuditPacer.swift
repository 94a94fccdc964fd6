import Synchronization

/// Paces the audit entries of refused calls made with a *known* key (revoked,
/// expired, its tenant disabled): one entry per key per interval, the next one
/// carrying how many were refused without an entry in between. Someone replaying
/// a revoked key is recorded, and cannot grow the audit log by replaying faster.
final class FailureAuditPacer: Sendable {
    private struct Window {
        var opened: ContinuousClock.Instant
        var unrecorded: Int
    }

    let interval: Duration
    private let maxKeys: Int
    private let windows = Mutex<[String: Window]>([:])

    init(interval: Duration, maxKeys: Int = 10_000) {
        self.interval = interval
        self.maxKeys = maxKeys
    }

    /// Whether this refusal of `key` gets an audit entry: nil when not (it is
    /// counted), else the number of its refusals since its last entry.
    func due(_ key: String, now: ContinuousClock.Instant) -> Int? {
        windows.withLock { windows in
            if var window = windows[key], now - window.opened < interval {
                window.unrecorded += 1
                windows[key] = window
                return nil
            }
            let unrecorded = windows[key]?.unrecorded ?? 0
            if windows[key] == nil && windows.count >= maxKeys {
                windows = windows.filter { now - $0.value.opened < interval }
                if windows.count >= maxKeys { windows.removeAll(keepingCapacity: true) }
            }
            windows[key] = Window(opened: now, unrecorded: 0)
            return unrecorded
        }
    }
}
