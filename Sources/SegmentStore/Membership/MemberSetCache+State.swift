import Foundation
import SegmentDomain

extension MemberSetCache {
    /// The cache's state and every rule for changing it, with no I/O: what is held,
    /// what is being written, what to load next, and whether a finished load may
    /// be kept. The cache wraps it in a mutex; the loader and the listener feed it.
    /// Unit-tested without a database.
    struct State: Sendable {
        let configuration: Configuration
        /// True while the notification connection listens; nothing is served otherwise.
        private(set) var listening = false
        private(set) var sets: [Key: MemberSet] = [:]
        /// Members held over all sets.
        private(set) var members = 0
        /// Open transactions in this process changing each set.
        private(set) var writing: [Key: Int] = [:]
        /// Bumped whenever a set is dropped, so a load that started before does not store.
        private var generations: [Key: UInt64] = [:]
        private var epoch: UInt64 = 0
        /// Loads waiting (each once).
        private(set) var queued: Set<Load> = []
        /// Loads that found too much (or no segment), not tried again before `maxAge` or a change.
        private var declined: [Load: ContinuousClock.Instant] = [:]
        /// Tenants whose user ids were all loaded.
        private var usersLoaded: Set<String> = []
        private(set) var users: [String: [String: Int64]] = [:]
        private(set) var userCount = 0
        private var userGenerations: [String: UInt64] = [:]

        init(configuration: Configuration) {
            self.configuration = configuration
        }

        /// What a load must present to be kept: nothing it covers changed since it started.
        struct Ticket: Sendable, Equatable {
            fileprivate let generation: UInt64
            fileprivate let epoch: UInt64
        }

        // MARK: Answering

        /// The held sets of `segments` and the tenant's user ids when every one is held and
        /// fresh (nil otherwise); what is missing is queued for loading (see ``takePending()``).
        mutating func held(
            tenant: String, segments: [String], now: ContinuousClock.Instant
        ) -> (sets: [MemberSet], users: [String: Int64])? {
            guard listening else { return nil }
            var found: [MemberSet] = []
            found.reserveCapacity(segments.count)
            var complete = true
            for segment in segments {
                let key = Key(tenant: tenant, segment: segment)
                if let set = sets[key], writing[key] == nil, now - set.loadedAt < configuration.maxAge {
                    found.append(set)
                } else {
                    complete = false
                    if writing[key] == nil { queue(.members(key), now: now) }
                }
            }
            if !usersLoaded.contains(tenant) { queue(.users(tenant: tenant), now: now) }
            guard complete, let users = users[tenant] else { return nil }
            return (found, users)
        }

        /// Whether every set of `segments` and the tenant's user ids are held (without queueing anything).
        func holds(tenant: String, segments: [String]) -> Bool {
            listening && users[tenant] != nil
                && segments.allSatisfy { segment in
                    let key = Key(tenant: tenant, segment: segment)
                    return sets[key] != nil && writing[key] == nil
                }
        }

        /// Loads queued since the last call, each once, in the order they were asked for.
        private(set) var pending: [Load] = []

        mutating func takePending() -> [Load] {
            defer { pending.removeAll() }
            return pending
        }

        private mutating func queue(_ load: Load, now: ContinuousClock.Instant) {
            if let declined = declined[load], now - declined < configuration.maxAge { return }
            declined[load] = nil
            // Checks naming many segments that do not exist must not grow the queue without bound:
            // past the limit a set is simply answered by the database.
            guard queued.count < configuration.maxQueuedLoads else { return }
            if queued.insert(load).inserted { pending.append(load) }
        }

        // MARK: Loading

        /// The ticket a load of `key` starts with.
        func ticket(for key: Key) -> Ticket { Ticket(generation: generations[key, default: 0], epoch: epoch) }

        /// The ticket a load of `tenant`'s user ids starts with.
        func usersTicket(_ tenant: String) -> Ticket { Ticket(generation: userGenerations[tenant, default: 0], epoch: epoch) }

        /// A load finished (stored or not): it may be queued again.
        mutating func finished(_ load: Load) { queued.remove(load) }

        /// A load found too much, or no segment: not tried again before `maxAge` or a change.
        mutating func decline(_ load: Load, now: ContinuousClock.Instant) {
            // Bounded too: forgetting declines only means a load may be tried once more.
            if declined.count >= configuration.maxQueuedLoads * 10 { declined.removeAll() }
            declined[load] = now
        }

        /// Keeps a loaded set unless it changed since its ticket was issued, making room by
        /// dropping the oldest sets. Returns whether it was kept.
        @discardableResult
        mutating func store(_ set: MemberSet, for key: Key, ticket: Ticket) -> Bool {
            guard listening, ticket == self.ticket(for: key), writing[key] == nil else { return false }
            if let old = sets.removeValue(forKey: key) { members -= old.count }
            while members + set.count > configuration.maxMembers,
                let oldest = sets.min(by: { $0.value.loadedAt < $1.value.loadedAt })?.key
            {
                drop(oldest)
            }
            sets[key] = set
            members += set.count
            return true
        }

        /// Room left for `tenant`'s user ids.
        func userRoom(_ tenant: String) -> Int { configuration.maxUsers - userCount + (users[tenant]?.count ?? 0) }

        /// Keeps a tenant's loaded user ids (merged with any noted since) unless they changed since the ticket.
        @discardableResult
        mutating func storeUsers(_ loaded: [String: Int64], tenant: String, ticket: Ticket) -> Bool {
            guard listening, ticket == usersTicket(tenant) else { return false }
            // Users noted since the load started are in the snapshot or newer; keep both.
            let merged = loaded.merging(users[tenant] ?? [:]) { _, noted in noted }
            userCount += merged.count - (users[tenant]?.count ?? 0)
            users[tenant] = merged
            usersLoaded.insert(tenant)
            return true
        }

        /// Remembers the indexes of users that exist (from a database answer), unless their ids changed since.
        mutating func noteUsers(_ found: [String: Int64], tenant: String, ticket: Ticket) {
            guard listening, ticket == usersTicket(tenant), !found.isEmpty else { return }
            if userCount + found.count > configuration.maxUsers {
                users.removeAll()
                usersLoaded.removeAll()
                userCount = 0
            }
            for (user, index) in found where users[tenant, default: [:]].updateValue(index, forKey: user) == nil {
                userCount += 1
            }
        }

        // MARK: Changes

        /// A transaction in this process starts changing `key`: served by the database until it ends.
        mutating func beginWrite(_ key: Key) {
            writing[key, default: 0] += 1
            drop(key)
        }

        /// That transaction ended (committed or not).
        mutating func endWrite(_ key: Key) {
            let open = writing[key, default: 1] - 1
            writing[key] = open > 0 ? open : nil
            drop(key)
        }

        /// Applies one NOTIFY payload: `members <tenant> <segment>`, `users <tenant>`; anything else drops everything.
        mutating func apply(notification payload: String) {
            let parts = payload.split(separator: " ", maxSplits: 2).map(String.init)
            switch (parts.first, parts.count) {
            case ("members", 3): drop(Key(tenant: parts[1], segment: parts[2]))
            case ("users", 2): dropUsers(parts[1])
            default: dropAll()
            }
        }

        /// The notification connection is up: anything that changed before it listened must not be served.
        mutating func startedListening() {
            dropAll()
            listening = true
        }

        /// The notification connection is down: nothing is served until it is back.
        mutating func stoppedListening() {
            listening = false
            dropAll()
        }

        mutating func drop(_ key: Key) {
            generations[key, default: 0] += 1
            declined[.members(key)] = nil
            if let set = sets.removeValue(forKey: key) { members -= set.count }
        }

        mutating func dropUsers(_ tenant: String) {
            userGenerations[tenant, default: 0] += 1
            declined[.users(tenant: tenant)] = nil
            usersLoaded.remove(tenant)
            if let removed = users.removeValue(forKey: tenant) { userCount -= removed.count }
        }

        private mutating func dropAll() {
            epoch += 1
            declined.removeAll()
            sets.removeAll()
            members = 0
            for tenant in users.keys { userGenerations[tenant, default: 0] += 1 }
            users.removeAll()
            usersLoaded.removeAll()
            userCount = 0
        }
    }
}
