import Foundation
import Logging
import Metrics
import PostgresNIO
import Synchronization
import SegmentDomain

/// Segment member sets held in memory, so a membership check is a binary search
/// instead of a database transaction (DESIGN.md: "member sets cached in memory
/// for membership checks").
///
/// A set is loaded in the background the first time a check needs it (that
/// check, and any before the load finishes, is answered by the database), and
/// dropped when it changes:
/// - in this process, a transaction that changes a membership marks the set as
///   being written until it ends, so checks go to the database meanwhile and
///   see exactly what it committed (read-your-writes for the worker's own refreshes);
/// - in every process, the same transaction sends a NOTIFY that drops the set
///   when it commits (other replicas follow within a round trip).
/// If the notification connection is lost, everything is dropped and checks go
/// to the database until it is back. A tenant's external user ids are loaded
/// the same way; users that appear later are added as checks find them, and
/// deleting a user drops its tenant's ids (an index is never reused).
public final class MemberSetCache: Sendable {
    /// How much the cache holds.
    public struct Configuration: Sendable {
        /// Members held at most over all sets (16 bytes each); 0 turns the cache off.
        public var maxMembers: Int = 10_000_000
        /// External user ids held at most (about 40 bytes each).
        public var maxUsers: Int = 5_000_000
        /// A set older than this is loaded again: bounds how long a change made
        /// outside segmentd (by hand, in SQL) can go unseen.
        public var maxAge: Duration = .seconds(600)
        /// The time source for ages; tests inject one.
        public var now: @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
        public init() {}
    }

    /// The NOTIFY channel; payloads are `members <tenant> <segment>` or `users <tenant>`.
    static let channel = "segmentd_membership"

    struct Key: Hashable, Sendable {
        let tenant: String
        let segment: String
    }

    /// What the background loader fetches.
    enum Load: Hashable, Sendable {
        case members(Key)
        case users(tenant: String)
    }

    /// One segment's members, sorted by user index, with when each entered.
    struct MemberSet: Sendable {
        let indexes: [Int64]
        let entered: [Date]
        let loadedAt: ContinuousClock.Instant

        func enteredAt(_ index: Int64) -> Date? {
            var low = 0, high = indexes.count
            while low < high {
                let middle = (low + high) / 2
                if indexes[middle] < index { low = middle + 1 } else { high = middle }
            }
            return low < indexes.count && indexes[low] == index ? entered[low] : nil
        }
    }

    private struct State {
        /// True while the notification connection listens; nothing is served otherwise.
        var listening = false
        var sets: [Key: MemberSet] = [:]
        var members = 0
        /// Open transactions in this process changing each set.
        var writing: [Key: Int] = [:]
        /// Bumped whenever a set is dropped, so a load that started before does not store.
        var generations: [Key: UInt64] = [:]
        var epoch: UInt64 = 0
        /// Loads waiting (each once).
        var queued: Set<Load> = []
        /// Loads that found too much (or no segment), not tried again before `maxAge` or a change.
        var declined: [Load: ContinuousClock.Instant] = [:]
        /// Tenants whose user ids were all loaded.
        var usersLoaded: Set<String> = []
        var users: [String: [String: Int64]] = [:]
        var userCount = 0
        var userGenerations: [String: UInt64] = [:]
    }

    let configuration: Configuration
    private let state = Mutex(State())
    private let loads: AsyncStream<Load>
    private let loadRequests: AsyncStream<Load>.Continuation
    private let loadCount = Atomic<Int>(0)
    private let hitCount = Atomic<Int>(0)
    private let userLoadCount = Atomic<Int>(0)
    private let hits = Counter(label: "segmentd_membership_cache_hits_total")
    private let misses = Counter(label: "segmentd_membership_cache_misses_total")
    private let heldMembers = Gauge(label: "segmentd_membership_cache_members")

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        (loads, loadRequests) = AsyncStream.makeStream(of: Load.self, bufferingPolicy: .unbounded)
    }

    /// Member sets loaded so far (a test proves checks stop reading the database).
    public var setLoads: Int { loadCount.load(ordering: .relaxed) }

    /// Tenants' user ids loaded so far.
    public var userLoads: Int { userLoadCount.load(ordering: .relaxed) }

    /// Checks answered from memory so far.
    public var answeredFromMemory: Int { hitCount.load(ordering: .relaxed) }

    /// True while sets are served (the notification connection is up).
    public var isServing: Bool { state.withLock { $0.listening } }

    // MARK: Answering checks

    /// Each user's membership in each segment from memory, or nil when a set or
    /// a user is not held (then the caller asks the database, and the missing
    /// sets are queued for loading).
    func answer(tenant: TenantID, userIDs: [String], segmentIDs: [String]) -> [String: [SegmentMembership]]? {
        guard configuration.maxMembers > 0 else { return nil }
        let now = configuration.now()
        // Under the lock only take the sets and the ids (copy-on-write: no copying); search outside it.
        let held = state.withLock { state -> (sets: [MemberSet], users: [String: Int64])? in
            guard state.listening else { return nil }
            var sets: [MemberSet] = []
            sets.reserveCapacity(segmentIDs.count)
            var complete = true
            for segment in segmentIDs {
                let key = Key(tenant: tenant.rawValue, segment: segment)
                if let set = state.sets[key], state.writing[key] == nil, now - set.loadedAt < configuration.maxAge {
                    sets.append(set)
                } else {
                    complete = false
                    if state.writing[key] == nil { queue(.members(key), now: now, in: &state) }
                }
            }
            if !state.usersLoaded.contains(tenant.rawValue) { queue(.users(tenant: tenant.rawValue), now: now, in: &state) }
            guard complete, let users = state.users[tenant.rawValue] else { return nil }
            return (sets, users)
        }
        var answer: [String: [SegmentMembership]]?
        if let held {
            var result: [String: [SegmentMembership]] = [:]
            for user in userIDs {
                guard let index = held.users[user] else {
                    result = [:]
                    break
                }
                result[user] = zip(segmentIDs, held.sets).map { segment, set in
                    let entered = set.enteredAt(index)
                    return SegmentMembership(segmentID: segment, member: entered != nil, enteredAt: entered)
                }
            }
            answer = result.isEmpty ? nil : result
        }
        if answer == nil {
            misses.increment()
        } else {
            hits.increment()
            hitCount.add(1, ordering: .relaxed)
        }
        return answer
    }

    /// Remembers the indexes of users that exist (from a database answer).
    func noteUsers(tenant: TenantID, _ found: [String: Int64], generation: UInt64) {
        guard configuration.maxMembers > 0, !found.isEmpty else { return }
        state.withLock { state in
            guard state.listening, state.userGenerations[tenant.rawValue, default: 0] == generation else { return }
            if state.userCount + found.count > configuration.maxUsers {
                state.users.removeAll()
                state.usersLoaded.removeAll()
                state.userCount = 0
            }
            for (user, index) in found where state.users[tenant.rawValue, default: [:]].updateValue(index, forKey: user) == nil {
                state.userCount += 1
            }
        }
    }

    /// The tenant's user generation, read before asking the database for users.
    func userGeneration(_ tenant: TenantID) -> UInt64 {
        state.withLock { $0.userGenerations[tenant.rawValue, default: 0] }
    }

    private func queue(_ load: Load, now: ContinuousClock.Instant, in state: inout State) {
        if let declined = state.declined[load], now - declined < configuration.maxAge { return }
        state.declined[load] = nil
        if state.queued.insert(load).inserted { loadRequests.yield(load) }
    }

    private func decline(_ load: Load) {
        let now = configuration.now()
        state.withLock { $0.declined[load] = now }
    }

    // MARK: Changes

    /// Marks `segment`'s set as changing in the current transaction: dropped now
    /// and again when the transaction ends, served by the database until then;
    /// other processes drop it when the transaction commits.
    static func membershipWillChange(tenant: TenantID, segment: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_notify(\(channel), \("members \(tenant.rawValue) \(segment)"))", logger: logger)
        guard let transaction = TransactionEnd.current else { return }
        let cache = transaction.memberSets
        let key = Key(tenant: tenant.rawValue, segment: segment)
        cache.state.withLock { state in
            state.writing[key, default: 0] += 1
            cache.drop(key, in: &state)
        }
        transaction.onEnd {
            cache.state.withLock { state in
                let open = state.writing[key, default: 1] - 1
                state.writing[key] = open > 0 ? open : nil
                cache.drop(key, in: &state)
            }
        }
    }

    /// Drops the tenant's cached user ids when the current transaction ends
    /// (here) or commits (everywhere): a deleted user's id must stop resolving.
    static func usersWillChange(tenant: TenantID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_notify(\(channel), \("users \(tenant.rawValue)"))", logger: logger)
        guard let transaction = TransactionEnd.current else { return }
        let cache = transaction.memberSets
        transaction.onEnd { cache.state.withLock { cache.dropUsers(tenant.rawValue, in: &$0) } }
    }

    private func drop(_ key: Key, in state: inout State) {
        state.generations[key, default: 0] += 1
        state.declined[.members(key)] = nil
        if let set = state.sets.removeValue(forKey: key) { state.members -= set.indexes.count }
        heldMembers.record(state.members)
    }

    private func dropUsers(_ tenant: String, in state: inout State) {
        state.userGenerations[tenant, default: 0] += 1
        state.declined[.users(tenant: tenant)] = nil
        state.usersLoaded.remove(tenant)
        if let users = state.users.removeValue(forKey: tenant) { state.userCount -= users.count }
    }

    private func dropAll(in state: inout State) {
        state.epoch += 1
        state.declined.removeAll()
        state.sets.removeAll()
        state.members = 0
        for tenant in state.users.keys { state.userGenerations[tenant, default: 0] += 1 }
        state.users.removeAll()
        state.usersLoaded.removeAll()
        state.userCount = 0
        heldMembers.record(0)
    }

    /// Applies one NOTIFY payload.
    func apply(notification payload: String) {
        let parts = payload.split(separator: " ", maxSplits: 2).map(String.init)
        state.withLock { state in
            switch (parts.first, parts.count) {
            case ("members", 3): drop(Key(tenant: parts[1], segment: parts[2]), in: &state)
            case ("users", 2): dropUsers(parts[1], in: &state)
            default: dropAll(in: &state)
            }
        }
    }

    // MARK: Running

    /// Listens for changes and loads queued sets until cancelled. Until it
    /// listens, and whenever the connection is lost, nothing is served.
    public func run(database: Database) async {
        guard configuration.maxMembers > 0 else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.listen(database: database) }
            group.addTask {
                for await load in self.loads {
                    if Task.isCancelled { break }
                    switch load {
                    case .members(let key): await self.load(key, database: database)
                    case .users(let tenant): await self.loadUsers(tenant, database: database)
                    }
                }
            }
            await group.next()
            group.cancelAll()
            loadRequests.finish()
        }
    }

    private func listen(database: Database) async {
        while !Task.isCancelled {
            do {
                try await database.withConnection { connection in
                    try await connection.listen(on: Self.channel) { notifications in
                        // Anything that changed before LISTEN took effect must not be served.
                        self.state.withLock { state in
                            self.dropAll(in: &state)
                            state.listening = true
                        }
                        for try await notification in notifications {
                            self.apply(notification: notification.payload)
                        }
                    }
                }
            } catch {
                if Task.isCancelled { break }
                database.logger.warning(
                    "membership notifications stopped; checks read the database until they resume", metadata: ["error": "\(error)"])
            }
            state.withLock { state in
                state.listening = false
                dropAll(in: &state)
            }
            try? await Task.sleep(for: .seconds(1))
        }
        state.withLock { $0.listening = false }
    }

    /// Loads one set unless it changed meanwhile or would not fit.
    private func load(_ key: Key, database: Database) async {
        let (generation, epoch) = state.withLock { state in
            (state.generations[key, default: 0], state.epoch)
        }
        defer { state.withLock { _ = $0.queued.remove(.members(key)) } }
        guard let tenant = TenantID(key.tenant) else { return }
        do {
            let loaded: MemberSet? = try await database.withTenant(tenant) { connection in
                var size: Int64 = 0, exists = false
                for try await (count, live) in try await connection.query(
                    """
                    SELECT (SELECT count(*) FROM segment_members WHERE segment_id = \(key.segment))::int8,
                           EXISTS (SELECT 1 FROM segments WHERE segment_id = \(key.segment) AND deleted_at IS NULL)
                    """, logger: database.logger
                ).decode((Int64, Bool).self) { (size, exists) = (count, live) }
                guard exists, size <= configuration.maxMembers / 2 else { return nil }
                var indexes: [Int64] = []
                var entered: [Date] = []
                indexes.reserveCapacity(Int(size))
                entered.reserveCapacity(Int(size))
                for try await (index, time) in try await connection.query(
                    "SELECT user_index, entered_at FROM segment_members WHERE segment_id = \(key.segment) ORDER BY user_index",
                    logger: database.logger
                ).decode((Int64, Date).self) {
                    indexes.append(index)
                    entered.append(time)
                }
                return MemberSet(indexes: indexes, entered: entered, loadedAt: configuration.now())
            }
            guard let loaded else { return decline(.members(key)) }
            loadCount.add(1, ordering: .relaxed)
            state.withLock { state in
                guard state.listening, state.epoch == epoch, state.generations[key, default: 0] == generation,
                      state.writing[key] == nil
                else { return }
                if let old = state.sets.removeValue(forKey: key) { state.members -= old.indexes.count }
                // Make room by dropping the oldest sets.
                while state.members + loaded.indexes.count > configuration.maxMembers,
                      let oldest = state.sets.min(by: { $0.value.loadedAt < $1.value.loadedAt })?.key
                {
                    drop(oldest, in: &state)
                }
                state.sets[key] = loaded
                state.members += loaded.indexes.count
                heldMembers.record(state.members)
            }
        } catch {
            database.logger.debug("could not load a member set", metadata: ["segment": "\(key.segment)", "error": "\(error)"])
        }
    }

    /// Loads all of a tenant's user ids, if they fit.
    private func loadUsers(_ tenantID: String, database: Database) async {
        let generation = state.withLock { $0.userGenerations[tenantID, default: 0] }
        defer { state.withLock { _ = $0.queued.remove(.users(tenant: tenantID)) } }
        guard let tenant = TenantID(tenantID) else { return }
        let room = state.withLock { configuration.maxUsers - $0.userCount + ($0.users[tenantID]?.count ?? 0) }
        do {
            let users: [String: Int64]? = try await database.withTenant(tenant) { connection in
                var count: Int64 = 0
                for try await found in try await connection.query("SELECT count(*)::int8 FROM users", logger: database.logger)
                    .decode(Int64.self) { count = found }
                guard count <= room else { return nil }
                var users: [String: Int64] = [:]
                users.reserveCapacity(Int(count))
                for try await (user, index) in try await connection.query(
                    "SELECT external_id, user_index FROM users", logger: database.logger
                ).decode((String, Int64).self) {
                    users[user] = index
                }
                return users
            }
            guard let users else { return decline(.users(tenant: tenantID)) }
            userLoadCount.add(1, ordering: .relaxed)
            state.withLock { state in
                guard state.listening, state.userGenerations[tenantID, default: 0] == generation else { return }
                // Users noted since the load started are in the snapshot or newer; keep both.
                let merged = users.merging(state.users[tenantID] ?? [:]) { _, noted in noted }
                state.userCount += merged.count - (state.users[tenantID]?.count ?? 0)
                state.users[tenantID] = merged
                state.usersLoaded.insert(tenantID)
            }
        } catch {
            database.logger.debug("could not load user ids", metadata: ["tenant": "\(tenantID)", "error": "\(error)"])
        }
    }
}
