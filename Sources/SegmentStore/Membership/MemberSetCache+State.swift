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
        /// Per set, notifications that named no version (each may change anything), so a
        /// write's own set is kept only when nothing else touched it since the write began.
        private var unversionedNotices: [Key: UInt64] = [:]
        /// Per set, the highest member version a notification announced.
        private var noticedVersions: [Key: Int64] = [:]
        /// Sets a refresh took as its current members from here.
        private(set) var refreshReads = 0

        init(configuration: Configuration) {
            self.configuration = configuration
        }

        /// What a load must present to be kept: nothing it covers changed since it started.
        struct Ticket: Sendable, Equatable {
            fileprivate let generation: UInt64
            fileprivate let epoch: UInt64
        }

        /// What a write must present for its committed set to be kept: nothing but writes
        /// of no later version touched the set since the ticket was taken.
        struct CommitTicket: Sendable, Equatable {
            fileprivate let unversionedNotices: UInt64
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

        /// Queues a load of `key` unless it is held, being written or not listened for.
        mutating func want(_ key: Key, now: ContinuousClock.Instant) {
            guard listening, sets[key] == nil, writing[key] == nil else { return }
            queue(.members(key), now: now)
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

        /// The set of `key` when held at exactly `state` (whatever its age: the state,
        /// read under the segment's lock, proves it current), for a refresh's difference.
        mutating func members(_ key: Key, at state: MemberState) -> MemberSet? {
            guard listening, writing[key] == nil, let set = sets[key], set.state == state else { return nil }
            refreshReads += 1
            return set
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

        /// The ticket a write of `key` takes before it begins, to keep the set it commits.
        func commitTicket(for key: Key) -> CommitTicket {
            CommitTicket(unversionedNotices: unversionedNotices[key, default: 0], epoch: epoch)
        }

        /// Keeps the set a write in this process committed, unless since `ticket` the
        /// connection was lost, a notification without a version came, one announced a
        /// later version, another write of the set is open here, or a set as new is held.
        /// Returns whether it was kept.
        @discardableResult
        mutating func storeCommitted(_ set: MemberSet, for key: Key, ticket: CommitTicket) -> Bool {
            guard listening, set.count <= configuration.maxMembers / 2, let version = set.state?.version, ticket == commitTicket(for: key),
                writing[key] == nil,
                noticedVersions[key, default: 0] <= version, (sets[key]?.state?.version ?? -1) < version
            else { return false }
            // A load that began before this write read older members: it must not replace these.
            drop(key)
            return store(set, for: key, ticket: self.ticket(for: key))
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

        /// Applies one NOTIFY payload: `members <tenant> <segment>` (anything may have
        /// changed), `members <tenant> <segment> <version>` (a write made the members that
        /// version: a set held at it or later stays), `users <tenant>`; anything else drops everything.
        mutating func apply(notification payload: String) {
            let parts = payload.split(separator: " ", maxSplits: 3).map(String.init)
            switch (parts.first, parts.count) {
            case ("members", 3):
                let key = Key(tenant: parts[1], segment: parts[2])
                unversionedNotices[key, default: 0] += 1
                drop(key)
            case ("members", 4):
                let key = Key(tenant: parts[1], segment: parts[2])
                guard let version = Int64(parts[3]) else { return dropAll() }
                noticedVersions[key] = max(version, noticedVersions[key, default: 0])
                if let held = sets[key]?.state?.version, held >= version { return }
                drop(key)
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
            unversionedNotices.removeAll()
            noticedVersions.removeAll()
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
