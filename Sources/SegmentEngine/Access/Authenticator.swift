import Foundation
import Logging
import SegmentDomain
import SegmentStore
import Synchronization

/// Turns an API key from request metadata into a ``Principal``.
///
/// Keys whose shape or checksum is wrong are rejected without touching the
/// database. Resolved keys are cached for ``Configuration/cacheTTL`` (2 s by
/// default): that is the longest a revoked key, a disabled tenant or a changed
/// role can keep working.
public final class Authenticator: Sendable {
    /// How the authenticator caches.
    public struct Configuration: Sendable {
        /// How long a resolved key (or a rejection) is trusted. The revocation delay.
        public var cacheTTL: Duration = .seconds(2)
        /// Cached keys at most; the oldest are dropped first.
        public var cacheCapacity: Int = 10_000
        /// The time source for cache expiry, rate limits and pacing; tests inject one.
        public var now: @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
        /// Calls one API key may make (`rate_limit_per_key`); nil is no limit.
        public var keyRate: RateLimit? = .perSecond(10_000)
        /// Well-formed keys that turn out unknown, revoked or expired, per peer address
        /// (`rate_limit_bad_keys_per_peer`): each cost a database lookup, the only way a
        /// caller without a valid key costs a query. Past it, that address's keys not in
        /// the cache are refused without a lookup until the budget refills.
        public var peerBadKeyRate: RateLimit? = .perSecond(20)
        /// At most one audit entry per known key refused in this interval (revoked, expired, disabled tenant).
        public var failureAuditInterval: Duration = .seconds(60)
        public init() {}
    }

    private struct Entry {
        let result: Result<Principal, AuthenticationFailure>
        let expires: ContinuousClock.Instant
    }

    private let store: PrincipalStore
    private let configuration: Configuration
    private let cache = Mutex<[[UInt8]: Entry]>([:])
    private let lookups = Atomic<Int>(0)
    private let lookupWaiters = Mutex<[(id: UUID, count: Int, continuation: CheckedContinuation<Void, Never>)]>([])
    private let lastUseWrites = Atomic<Int>(0)
    /// When each key's use was last written, so that happens at most once a minute.
    private let lastUseWritten = Mutex<[String: ContinuousClock.Instant]>([:])

    private let keyCalls: TokenBuckets?
    private let peerBadKeys: TokenBuckets?
    private let failureAudits: FailureAuditPacer

    public init(store: PrincipalStore, configuration: Configuration = .init()) {
        self.store = store
        self.configuration = configuration
        self.keyCalls = configuration.keyRate.map { TokenBuckets(rate: $0) }
        self.peerBadKeys = configuration.peerBadKeyRate.map { TokenBuckets(rate: $0) }
        self.failureAudits = FailureAuditPacer(interval: configuration.failureAuditInterval)
    }

    /// Database lookups made so far (a test proves malformed keys make none).
    public var lookupCount: Int { lookups.load(ordering: .relaxed) }

    /// Returns once `count` lookups have been made, so a test awaits the moment a stream's
    /// message was authorized instead of polling; or when the task is cancelled (a test past its
    /// time limit must end, not wait for a lookup that will never come).
    public func wait(untilLookups count: Int) async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = lookupWaiters.withLock { waiters -> Bool in
                    if lookupCount >= count || Task.isCancelled { return true }
                    waiters.append((id, count, continuation))
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let cancelled = lookupWaiters.withLock { waiters -> CheckedContinuation<Void, Never>? in
                guard let position = waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return waiters.remove(at: position).continuation
            }
            cancelled?.resume()
        }
    }

    private func countLookup() {
        let ready = lookupWaiters.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            let done = lookups.add(1, ordering: .relaxed).newValue
            var ready: [CheckedContinuation<Void, Never>] = []
            waiters.removeAll { waiter in
                guard waiter.count <= done else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// `last used` writes made so far (a test proves they are rare).
    public var lastUseWriteCount: Int { lastUseWrites.load(ordering: .relaxed) }

    /// Records that `principal`'s key was used: at most one write a minute per key
    /// (and the database's WHERE clause holds that across replicas).
    public func noteUse(_ principal: Principal) async {
        let now = configuration.now()
        let due = lastUseWritten.withLock { written -> Bool in
            if let last = written[principal.keyName], now - last < .seconds(60) { return false }
            written[principal.keyName] = now
            return true
        }
        guard due else { return }
        if (try? await store.touchLastUsed(principal)) == true {
            lastUseWrites.add(1, ordering: .relaxed)
        }
    }

    /// The display prefix of a presented key that has a key's shape (for the audit entry
    /// of a refused call), or empty; never the secret.
    public static func displayPrefix(of presented: String?) -> String {
        presented.flatMap(APIKeySecret.init(parsing:))?.displayPrefix ?? ""
    }

    /// Authenticates `presented`, the key as sent by the client from `peer` (its
    /// address). A key not in the cache costs a database lookup; one that finds no
    /// valid key is charged to the peer, and past the peer's budget its uncached keys
    /// fail with LIMIT_EXCEEDED and a retry delay instead (a flood of made-up keys
    /// cannot turn into a flood of queries).
    /// `peer` is worked out only when the key is not cached.
    public func authenticate(_ presented: String?, peer: @autoclosure () -> String = "") async throws -> Result<Principal, AuthenticationFailure> {
        guard let presented, !presented.isEmpty else { return .failure(.missing) }
        guard let secret = APIKeySecret(parsing: presented) else { return .failure(.malformed) }
        let cacheKey = secret.hash
        let now = configuration.now()
        if let entry = cache.withLock({ $0[cacheKey] }), entry.expires > now {
            return entry.result
        }
        let peer = peer()
        if let peerBadKeys, let delay = peerBadKeys.delay(peer, now: now) {
            throw DomainError.rateLimited(
                "bad_keys_per_peer", "too many calls with unknown, revoked or expired keys from this address", retryAfter: delay)
        }
        let result = try await store.resolve(secret)
        countLookup()
        if case .failure = result { _ = peerBadKeys?.take(peer, now: now) }
        let entry = Entry(result: result, expires: now.advanced(by: configuration.cacheTTL))
        cache.withLock { cache in
            if cache.count >= configuration.cacheCapacity {
                cache = cache.filter { $0.value.expires > now }
                if cache.count >= configuration.cacheCapacity { cache.removeAll(keepingCapacity: true) }
            }
            cache[cacheKey] = entry
        }
        return result
    }

    /// Charges one call to `principal`'s key; throws LIMIT_EXCEEDED with a retry delay past its rate.
    public func admit(_ principal: Principal) throws(DomainError) {
        guard let keyCalls, let delay = keyCalls.take(principal.keyName, now: configuration.now()) else { return }
        throw DomainError.rateLimited(
            "calls_per_key", "this API key made more than \(Int(keyCalls.rate.perSecond)) calls a second", retryAfter: delay)
    }

    /// Whether a refusal of the known key `presented` gets an audit entry now: nil when
    /// one was written for it within the interval, else how many refusals went unrecorded since.
    public func failureAuditDue(_ presented: String?) -> Int? {
        failureAudits.due(Self.displayPrefix(of: presented), now: configuration.now())
    }
}
