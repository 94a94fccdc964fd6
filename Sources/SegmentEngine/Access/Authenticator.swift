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
        /// The time source for cache expiry and `last used` pacing; tests inject one.
        public var now: @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
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
    private let lookupWaiters = Mutex<[(count: Int, continuation: CheckedContinuation<Void, Never>)]>([])
    private let lastUseWrites = Atomic<Int>(0)
    /// When each key's use was last written, so that happens at most once a minute.
    private let lastUseWritten = Mutex<[String: ContinuousClock.Instant]>([:])

    public init(store: PrincipalStore, configuration: Configuration = .init()) {
        self.store = store
        self.configuration = configuration
    }

    /// Database lookups made so far (a test proves malformed keys make none).
    public var lookupCount: Int { lookups.load(ordering: .relaxed) }

    /// Returns once `count` lookups have been made, so a test awaits the moment a stream's
    /// message was authorized instead of polling.
    public func wait(untilLookups count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = lookupWaiters.withLock { waiters -> Bool in
                if lookupCount >= count { return true }
                waiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
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

    /// Authenticates `presented`, the key as sent by the client.
    public func authenticate(_ presented: String?) async throws -> Result<Principal, AuthenticationFailure> {
        guard let presented, !presented.isEmpty else { return .failure(.missing) }
        guard let secret = APIKeySecret(parsing: presented) else { return .failure(.malformed) }
        let cacheKey = secret.hash
        let now = configuration.now()
        if let entry = cache.withLock({ $0[cacheKey] }), entry.expires > now {
            return entry.result
        }
        let result = try await store.resolve(secret)
        countLookup()
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
}
