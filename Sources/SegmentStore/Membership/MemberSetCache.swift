import Foundation
import Logging
import Metrics
import PostgresNIO
import SegmentDomain
import Synchronization

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
        /// Members held at most over all sets (typically 2–6 bytes each, ``MemberSet``); 0 turns the cache off.
        public var maxMembers: Int = 10_000_000
        /// External user ids held at most (about 40 bytes each).
        public var maxUsers: Int = 5_000_000
        /// A set older than this is loaded again: bounds how long a change made
        /// outside segmentd (by hand, in SQL) can go unseen.
        public var maxAge: Duration = .seconds(600)
        /// Loads waiting at most (each set or tenant's ids once); declined loads remembered: ten times this.
        public var maxQueuedLoads: Int = 1000
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

    let configuration: Configuration
    private let state: Mutex<State>
    private let loads: AsyncStream<Load>
    private let loadRequests: AsyncStream<Load>.Continuation
    private let loadCount = Atomic<Int>(0)
    private let hitCount = Atomic<Int>(0)
    private let notificationCount = Atomic<Int>(0)
    private let waiters = Mutex<[(id: UUID, condition: @Sendable (Progress) -> Bool, continuation: CheckedContinuation<Void, Never>)]>([])
    private let userLoadCount = Atomic<Int>(0)
    private let hits = Counter(label: "segmentd_membership_cache_hits_total")
    private let misses = Counter(label: "segmentd_membership_cache_misses_total")
    private let heldMembers = Gauge(label: "segmentd_membership_cache_members")

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        state = Mutex(State(configuration: configuration))
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

    /// Notifications applied so far (from this process's and other processes' transactions).
    public var notificationsApplied: Int { notificationCount.load(ordering: .relaxed) }

    /// Whether the sets of `segments` and the tenant's user ids are all held now.
    public func holds(tenant: TenantID, segments: [String]) -> Bool {
        state.withLock { $0.holds(tenant: tenant.rawValue, segments: segments) }
    }

    /// What a waiter can observe of the cache.
    public struct Progress: Sendable {
        public let isServing: Bool
        public let setLoads: Int
        public let userLoads: Int
        public let notificationsApplied: Int
    }

    /// Returns once `condition` holds — checked now and after every change the cache
    /// makes (listening, a load, a notification) — so callers await the event they
    /// need instead of polling; or when the task is cancelled.
    public func wait(until condition: @escaping @Sendable (Progress) -> Bool) async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = waiters.withLock { waiters -> Bool in
                    if condition(progress) || Task.isCancelled { return true }
                    waiters.append((id, condition, continuation))
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let cancelled = waiters.withLock { waiters -> CheckedContinuation<Void, Never>? in
                guard let position = waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return waiters.remove(at: position).continuation
            }
            cancelled?.resume()
        }
    }

    private var progress: Progress {
        Progress(isServing: isServing, setLoads: setLoads, userLoads: userLoads, notificationsApplied: notificationsApplied)
    }

    /// Wakes the waiters whose condition now holds.
    private func changed() {
        let ready = waiters.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            let now = progress
            var ready: [CheckedContinuation<Void, Never>] = []
            waiters.removeAll { waiter in
                guard waiter.condition(now) else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    // MARK: Answering checks

    /// Each user's membership in each segment from memory, or nil when a set or
    /// a user is not held (then the caller asks the database, and the missing
    /// sets are queued for loading).
    func answer(tenant: TenantID, userIDs: [String], segmentIDs: [String]) -> [String: [SegmentMembership]]? {
        guard configuration.maxMembers > 0 else { return nil }
        let now = configuration.now()
        // Under the lock only take the sets and the ids (copy-on-write: no copying); search outside it.
        let (held, toLoad) = state.withLock { state in
            (state.held(tenant: tenant.rawValue, segments: segmentIDs, now: now), state.takePending())
        }
        for load in toLoad { loadRequests.yield(load) }
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
    func noteUsers(tenant: TenantID, _ found: [String: Int64], ticket: State.Ticket) {
        guard configuration.maxMembers > 0 else { return }
        state.withLock { $0.noteUsers(found, tenant: tenant.rawValue, ticket: ticket) }
    }

    /// The tenant's user ticket, taken before asking the database for users.
    func usersTicket(_ tenant: TenantID) -> State.Ticket {
        state.withLock { $0.usersTicket(tenant.rawValue) }
    }

    // MARK: Sharing sets with refreshes

    /// A segment's members held here, as a refresh takes them (the audience engine's
    /// bitmap words, shared with the checks' set rather than held twice).
    public struct HeldMembers: Sendable {
        let set: MemberSet
        /// Bit `i` of word `i / 64` is user `i`.
        public var words: [UInt64] { self.set.words }
    }

    /// What a write presents to keep the set it commits (``committed(tenant:segment:words:state:previous:enteredAt:ticket:)``).
    public struct CommitTicket: Sendable {
        let state: State.CommitTicket
    }

    /// The segment's members when held at exactly `state` (read under the segment's lock).
    public func members(tenant: TenantID, segment: String, at memberState: MemberState) -> HeldMembers? {
        guard configuration.maxMembers > 0 else { return nil }
        return state.withLock { $0.members(Key(tenant: tenant.rawValue, segment: segment), at: memberState) }.map(HeldMembers.init)
    }

    /// Taken before a write of the segment begins.
    public func commitTicket(tenant: TenantID, segment: String) -> CommitTicket {
        CommitTicket(state: state.withLock { $0.commitTicket(for: Key(tenant: tenant.rawValue, segment: segment)) })
    }

    /// Keeps the members a write in this process committed at `state`, so checks and the
    /// next refresh need not read them back: members that stayed keep their entry time
    /// from `previous` (the set the write changed), the rest entered at `enteredAt`. Kept
    /// only when `previous` is the whole story (held, or the segment had no members) and
    /// nothing else changed the set since `ticket`; otherwise it is loaded when asked for.
    public func committed(
        tenant: TenantID, segment: String, words: [UInt64], state: MemberState, previous: HeldMembers?, previousSize: Int64,
        enteredAt: Date, ticket: CommitTicket
    ) {
        guard configuration.maxMembers > 0, previous != nil || previousSize == 0 else { return }
        // Stored as PostgreSQL stored it (whole microseconds), so memory and the database answer alike.
        let entered = AudienceTime.date(AudienceTime.microseconds(enteredAt))
        let set = MemberSet(words: words, loadedAt: configuration.now(), state: state) { index in
            previous?.set.enteredAt(Int64(index)) ?? entered
        }
        let kept = self.state.withLock { $0.storeCommitted(set, for: Key(tenant: tenant.rawValue, segment: segment), ticket: ticket.state) }
        if kept {
            recordHeld()
            changed()
        }
    }

    /// Loads the segment's set in the background unless it is held (a refresh read it
    /// from the database; the next one, and checks, take it from here).
    public func prefetch(tenant: TenantID, segment: String) {
        guard configuration.maxMembers > 0 else { return }
        let now = configuration.now()
        let toLoad = state.withLock { state in
            state.want(Key(tenant: tenant.rawValue, segment: segment), now: now)
            return state.takePending()
        }
        for load in toLoad { loadRequests.yield(load) }
    }

    /// Sets refreshes took from here so far.
    public var refreshReads: Int { state.withLock { $0.refreshReads } }

    // MARK: Changes

    /// Marks `segment`'s set as changing in the current transaction: dropped now
    /// and again when the transaction ends, served by the database until then;
    /// other processes drop it when the transaction commits.
    static func membershipWillChange(
        tenant: TenantID, segment: String, version: Int64? = nil, on connection: PostgresConnection, logger: Logger
    ) async throws {
        try await membershipWillChange(tenant: tenant, segments: [segment], version: version, on: connection, logger: logger)
    }

    /// ``membershipWillChange(tenant:segment:on:logger:)`` for several segments, in one round
    /// trip; with `version`, the member version the write makes (one segment): a set another
    /// process already holds at that version stays.
    static func membershipWillChange(
        tenant: TenantID, segments: [String], version: Int64? = nil, on connection: PostgresConnection, logger: Logger
    ) async throws {
        let payloads = segments.map { "members \(tenant.rawValue) \($0)" + (version.map { " \($0)" } ?? "") }
        try await connection.query("SELECT pg_notify(\(channel), p) FROM unnest(\(payloads)::text[]) AS p", logger: logger)
        // Membership is only ever written inside Database.withTransaction; anything else is a bug
        // that would let this process serve a set it is replacing.
        guard let transaction = TransactionEnd.current else {
            throw DomainError(.internalError, "a membership change outside a transaction of Database.withTransaction")
        }
        let cache = transaction.memberSets
        let keys = segments.map { Key(tenant: tenant.rawValue, segment: $0) }
        cache.state.withLock { state in for key in keys { state.beginWrite(key) } }
        cache.recordHeld()
        transaction.onEnd {
            cache.state.withLock { state in for key in keys { state.endWrite(key) } }
            cache.recordHeld()
        }
    }

    /// Drops the tenant's cached user ids when the current transaction ends
    /// (here) or commits (everywhere): a deleted user's id must stop resolving.
    static func usersWillChange(tenant: TenantID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_notify(\(channel), \("users \(tenant.rawValue)"))", logger: logger)
        guard let transaction = TransactionEnd.current else {
            throw DomainError(.internalError, "a change of user ids outside a transaction of Database.withTransaction")
        }
        let cache = transaction.memberSets
        transaction.onEnd { cache.state.withLock { $0.dropUsers(tenant.rawValue) } }
    }

    /// Applies one NOTIFY payload.
    func apply(notification payload: String) {
        state.withLock { $0.apply(notification: payload) }
        notificationCount.add(1, ordering: .relaxed)
        recordHeld()
        changed()
    }

    private func recordHeld() {
        heldMembers.record(state.withLock { $0.members })
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
                        self.state.withLock { $0.startedListening() }
                        self.recordHeld()
                        self.changed()
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
            state.withLock { $0.stoppedListening() }
            recordHeld()
            try? await Task.sleep(for: .seconds(1))
        }
        state.withLock { $0.stoppedListening() }
    }

    /// Loads one set unless it changed meanwhile or would not fit.
    private func load(_ key: Key, database: Database) async {
        let ticket = state.withLock { $0.ticket(for: key) }
        defer { state.withLock { $0.finished(.members(key)) } }
        guard let tenant = TenantID(key.tenant) else { return }
        do {
            let loaded: MemberSet? = try await database.withTenant(tenant) { connection in
                var size: Int64 = 0
                var memberState: MemberState?
                for try await (count, version, stored) in try await connection.query(
                    """
                    SELECT (SELECT count(*) FROM segment_members WHERE segment_id = \(key.segment))::int8, s.member_version, s.size
                    FROM segments s WHERE s.segment_id = \(key.segment) AND s.deleted_at IS NULL
                    """, logger: database.logger
                ).decode((Int64, Int64, Int64).self) { (size, memberState) = (count, MemberState(version: version, size: stored)) }
                // The state is a label for refreshes: a write between these statements is caught by the ticket.
                guard let memberState, size <= configuration.maxMembers / 2 else { return nil }
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
                return MemberSet(indexes: indexes, entered: entered, loadedAt: configuration.now(), state: memberState)
            }
            guard let loaded else { return state.withLock { $0.decline(.members(key), now: configuration.now()) } }
            loadCount.add(1, ordering: .relaxed)
            defer { changed() }
            state.withLock { _ = $0.store(loaded, for: key, ticket: ticket) }
            recordHeld()
        } catch {
            database.logger.debug("could not load a member set", metadata: ["segment": "\(key.segment)", "error": "\(error)"])
        }
    }

    /// Loads all of a tenant's user ids, if they fit.
    private func loadUsers(_ tenantID: String, database: Database) async {
        let (ticket, room) = state.withLock { ($0.usersTicket(tenantID), $0.userRoom(tenantID)) }
        defer { state.withLock { $0.finished(.users(tenant: tenantID)) } }
        guard let tenant = TenantID(tenantID) else { return }
        do {
            let users: [String: Int64]? = try await database.withTenant(tenant) { connection in
                var count: Int64 = 0
                for try await found in try await connection.query("SELECT count(*)::int8 FROM users", logger: database.logger)
                    .decode(Int64.self)
                { count = found }
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
            guard let users else { return state.withLock { $0.decline(.users(tenant: tenantID), now: configuration.now()) } }
            userLoadCount.add(1, ordering: .relaxed)
            defer { changed() }
            state.withLock { _ = $0.storeUsers(users, tenant: tenantID, ticket: ticket) }
        } catch {
            database.logger.debug("could not load user ids", metadata: ["tenant": "\(tenantID)", "error": "\(error)"])
        }
    }
}
