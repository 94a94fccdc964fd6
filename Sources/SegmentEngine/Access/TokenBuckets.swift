import SegmentDomain
import Synchronization

/// One token bucket per key (an API key, a peer address), refilled at the rate's
/// pace: a call takes a token or is told how long until one is there. Held in
/// memory with a bound on keys, since the keys of a flood are made up.
final class TokenBuckets: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    let rate: RateLimit
    private let maxKeys: Int
    private let buckets = Mutex<[String: Bucket]>([:])

    init(rate: RateLimit, maxKeys: Int = 100_000) {
        self.rate = rate
        self.maxKeys = maxKeys
    }

    /// Takes a token for `key`: nil when there was one, else how long until there is.
    func take(_ key: String, now: ContinuousClock.Instant) -> Duration? {
        buckets.withLock { buckets in
            var bucket = refilled(buckets[key], now: now)
            defer {
                if buckets[key] == nil && buckets.count >= maxKeys { evictFull(&buckets, now: now) }
                buckets[key] = bucket
            }
            guard bucket.tokens >= 1 else { return wait(for: bucket) }
            bucket.tokens -= 1
            return nil
        }
    }

    /// How long until `key` has a token (nil when it has one now), taking none.
    func delay(_ key: String, now: ContinuousClock.Instant) -> Duration? {
        buckets.withLock { buckets in
            let bucket = refilled(buckets[key], now: now)
            return bucket.tokens >= 1 ? nil : wait(for: bucket)
        }
    }

    private func refilled(_ bucket: Bucket?, now: ContinuousClock.Instant) -> Bucket {
        guard var bucket else { return Bucket(tokens: rate.burst, updated: now) }
        let elapsed = now - bucket.updated
        if elapsed > .zero {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(rate.burst, bucket.tokens + seconds * rate.perSecond)
            bucket.updated = now
        }
        return bucket
    }

    private func wait(for bucket: Bucket) -> Duration {
        let seconds = (1 - bucket.tokens) / rate.perSecond
        return .milliseconds(max(1, Int64((seconds * 1000).rounded(.up))))
    }

    /// Drops buckets that have refilled (forgetting them changes nothing); if the
    /// keys are still too many, drops them all rather than grow without bound.
    private func evictFull(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant) {
        buckets = buckets.filter { refilled($0.value, now: now).tokens < rate.burst }
        if buckets.count >= maxKeys { buckets.removeAll(keepingCapacity: true) }
    }
}
