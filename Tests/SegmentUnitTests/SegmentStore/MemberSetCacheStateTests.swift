import Foundation
import Testing

@testable import SegmentStore

/// The member-set cache's rules, without a database: what is served, what is
/// loaded, and when a finished load may be kept.
@Suite("Member-set cache state: serving, loading, writes, notifications, budget")
struct MemberSetCacheStateTests {
    typealias State = MemberSetCache.State
    typealias Key = MemberSetCache.Key
    static let start = ContinuousClock.now

    static func state(maxMembers: Int = 100, maxAge: Duration = .seconds(600)) -> State {
        var configuration = MemberSetCache.Configuration()
        configuration.maxMembers = maxMembers
        configuration.maxAge = maxAge
        var state = State(configuration: configuration)
        state.startedListening()
        return state
    }

    static func set(_ indexes: [Int64], at time: ContinuousClock.Instant = start) -> MemberSetCache.MemberSet {
        MemberSetCache.MemberSet(indexes: indexes, entered: indexes.map { Date(timeIntervalSince1970: Double($0)) }, loadedAt: time)!
    }

    /// Loads the set and the tenant's users the way the loader does.
    static func load(_ state: inout State, _ segment: String, _ indexes: [Int64], users: [String: Int64] = ["u1": 1, "u2": 2]) {
        let key = Key(tenant: "acme", segment: segment)
        let ticket = state.ticket(for: key)
        let r0_0 = state.store(set(indexes), for: key, ticket: ticket)
        #expect(r0_0)
        state.finished(.members(key))
        let r0_1 = state.storeUsers(users, tenant: "acme", ticket: state.usersTicket("acme"))
        #expect(r0_1)
        state.finished(.users(tenant: "acme"))
    }

    @Test("a first check queues each missing set and the tenant's users once; then it is answered from memory")
    func loadsThenServes() {
        var state = Self.state()
        let r0_2 = state.held(tenant: "acme", segments: ["a", "b"], now: Self.start)
        #expect(r0_2 == nil)
        let r0_3 = state.takePending()
        #expect(r0_3 == [.members(Key(tenant: "acme", segment: "a")), .members(Key(tenant: "acme", segment: "b")), .users(tenant: "acme")])
        let r0_4 = state.held(tenant: "acme", segments: ["a"], now: Self.start)
        #expect(r0_4 == nil)
        let r0_5 = state.takePending()
        #expect(r0_5.isEmpty, "queued loads are not asked for twice")
        Self.load(&state, "a", [1, 3])
        let held = state.held(tenant: "acme", segments: ["a"], now: Self.start)
        #expect(held?.sets.first?.enteredAt(3) != nil && held?.sets.first?.enteredAt(2) == nil)
        #expect(held?.users["u2"] == 2)
    }

    @Test("nothing is served while not listening, and losing the connection drops everything")
    func listening() {
        var state = Self.state()
        Self.load(&state, "a", [1])
        state.stoppedListening()
        let r0_6 = state.held(tenant: "acme", segments: ["a"], now: Self.start)
        #expect(r0_6 == nil)
        let r0_7 = state.takePending()
        #expect(r0_7.isEmpty, "nothing is loaded while not listening")
        state.startedListening()
        #expect(state.sets.isEmpty && state.members == 0)
    }

    @Test("a set being written in this process is served by the database until the write ends, and a load that raced it is not kept")
    func writes() {
        var state = Self.state()
        let key = Key(tenant: "acme", segment: "a")
        Self.load(&state, "a", [1])
        let raced = state.ticket(for: key)
        state.beginWrite(key)
        let r0_8 = state.held(tenant: "acme", segments: ["a"], now: Self.start)
        #expect(r0_8 == nil)
        let r0_9 = state.takePending()
        #expect(r0_9.isEmpty, "a set being written is not loaded")
        let r0_10 = state.store(Self.set([1, 2]), for: key, ticket: raced)
        #expect(!r0_10, "a load that started before the write is stale")
        state.endWrite(key)
        #expect(state.sets[key] == nil)
        let r0_11 = state.held(tenant: "acme", segments: ["a"], now: Self.start)
        #expect(r0_11 == nil)
        let r0_12 = state.takePending()
        #expect(r0_12 == [.members(key)])
    }

    @Test("notifications drop a set, a tenant's users, or (unknown payload) everything")
    func notifications() {
        var state = Self.state()
        Self.load(&state, "a", [1])
        Self.load(&state, "b", [2])
        state.apply(notification: "members acme a")
        #expect(state.sets.keys.map(\.segment) == ["b"] && state.members == 1)
        state.apply(notification: "users acme")
        #expect(state.users["acme"] == nil)
        let r0_13 = state.held(tenant: "acme", segments: ["b"], now: Self.start)
        #expect(r0_13 == nil, "without the users nothing is answered")
        state.apply(notification: "garbled")
        #expect(state.sets.isEmpty)
    }

    @Test("the budget: the oldest sets make room; a set over it is declined and not retried until it changes or ages")
    func budget() {
        var state = Self.state(maxMembers: 4, maxAge: .seconds(60))
        let a = Key(tenant: "acme", segment: "a")
        let b = Key(tenant: "acme", segment: "b")
        let r0_14 = state.store(Self.set([1, 2, 3], at: Self.start), for: a, ticket: state.ticket(for: a))
        #expect(r0_14)
        let r0_15 = state.store(Self.set([4, 5], at: Self.start + .seconds(1)), for: b, ticket: state.ticket(for: b))
        #expect(r0_15)
        #expect(state.sets[a] == nil && state.members == 2, "a was oldest and made room")
        // The loader found a set too large: declined, not asked for again until max age passes.
        let big = Key(tenant: "acme", segment: "big")
        _ = state.held(tenant: "acme", segments: ["big"], now: Self.start)
        let r0_16 = state.takePending()
        #expect(r0_16.contains(.members(big)))
        state.finished(.members(big))
        state.decline(.members(big), now: Self.start)
        _ = state.held(tenant: "acme", segments: ["big"], now: Self.start + .seconds(30))
        let r0_17 = state.takePending()
        #expect(!r0_17.contains(.members(big)))
        _ = state.held(tenant: "acme", segments: ["big"], now: Self.start + .seconds(61))
        let r0_18 = state.takePending()
        #expect(r0_18.contains(.members(big)))
    }

    @Test("a set older than max age is loaded again")
    func maxAge() {
        var state = Self.state(maxAge: .seconds(60))
        Self.load(&state, "a", [1])
        let r0_19 = state.held(tenant: "acme", segments: ["a"], now: Self.start + .seconds(59))
        #expect(r0_19 != nil)
        let r0_20 = state.held(tenant: "acme", segments: ["a"], now: Self.start + .seconds(60))
        #expect(r0_20 == nil)
        let r0_21 = state.takePending()
        #expect(r0_21 == [.members(Key(tenant: "acme", segment: "a"))])
    }

    @Test("checks naming many unknown segments cannot grow the load queue or the declined set without bound")
    func bounded() {
        var configuration = MemberSetCache.Configuration()
        configuration.maxQueuedLoads = 3
        var state = State(configuration: configuration)
        state.startedListening()
        _ = state.held(tenant: "acme", segments: (0..<10).map { "nope\($0)" }, now: Self.start)
        let pending = state.takePending()
        #expect(pending.count == 3 && state.queued.count == 3)
        for load in pending {
            state.finished(load)
            state.decline(load, now: Self.start)
        }
        for index in 0..<40 { state.decline(.members(Key(tenant: "acme", segment: "x\(index)")), now: Self.start) }
        _ = state.held(tenant: "acme", segments: ["nope0"], now: Self.start)
        let again = state.takePending()
        #expect(again.filter { $0 == .members(Key(tenant: "acme", segment: "nope0")) }.count <= 1)
        #expect(state.queued.count <= 3, "declines are forgotten past their bound; the queue stays bounded")
    }

    static func committed(_ indexes: [UInt32], version: Int64) -> MemberSetCache.MemberSet {
        var words = [UInt64](repeating: 0, count: 2)
        for index in indexes { words[Int(index >> 6)] |= 1 << UInt64(index & 63) }
        return MemberSetCache.MemberSet(
            words: words, loadedAt: start, state: MemberState(version: version, size: Int64(indexes.count))
        ) { _ in Date(timeIntervalSince1970: 0) }
    }

    @Test("a write's committed set is kept and serves refreshes at its exact state; a notice of its own version keeps it, a later one drops it")
    func committedSets() {
        var state = Self.state()
        let key = Key(tenant: "acme", segment: "a")
        let ticket = state.commitTicket(for: key)
        state.beginWrite(key)
        state.endWrite(key)
        let kept = state.storeCommitted(Self.committed([1, 70], version: 3), for: key, ticket: ticket)
        #expect(kept && state.sets[key]?.enteredAt(70) != nil)
        #expect(state.members(key, at: MemberState(version: 3, size: 2)) != nil)
        #expect(state.members(key, at: MemberState(version: 3, size: 1)) == nil, "an erasure lowered the size: not the same set")
        #expect(state.members(key, at: MemberState(version: 4, size: 2)) == nil)
        state.apply(notification: "members acme a 3")
        #expect(state.sets[key] != nil, "its own write's notice, arriving after it was kept")
        state.apply(notification: "members acme a 2")
        #expect(state.sets[key] != nil, "an older write's late notice")
        state.apply(notification: "members acme a 4")
        #expect(state.sets[key] == nil, "a later write elsewhere")
    }

    @Test(
        "a committed set is not kept when anything else touched it since the ticket: a notice without a version, a later version, a lost connection, another open write"
    )
    func committedRefused() {
        let key = Key(tenant: "acme", segment: "a")
        let cases: [(String, (inout State) -> Void)] = [
            ("unversioned notice", { $0.apply(notification: "members acme a") }),
            ("later version noticed first", { $0.apply(notification: "members acme a 6") }),
            (
                "connection lost and back",
                {
                    $0.stoppedListening()
                    $0.startedListening()
                }
            ),
            ("another write open here", { $0.beginWrite(key) }),
        ]
        for (name, touch) in cases {
            var state = Self.state()
            let ticket = state.commitTicket(for: key)
            touch(&state)
            let kept = state.storeCommitted(Self.committed([1], version: 5), for: key, ticket: ticket)
            #expect(!kept && state.sets[key] == nil, "\(name)")
        }
        // A load that began before the write read older members: once the write's set is kept, the load is not.
        var state = Self.state()
        let loadTicket = state.ticket(for: key)
        let kept = state.storeCommitted(Self.committed([1, 2], version: 5), for: key, ticket: state.commitTicket(for: key))
        #expect(kept)
        let stored = state.store(Self.set([1]), for: key, ticket: loadTicket)
        #expect(!stored && state.sets[key]?.count == 2)
        // Nor is an older committed set kept over a newer one.
        let older = state.storeCommitted(Self.committed([9], version: 4), for: key, ticket: state.commitTicket(for: key))
        #expect(!older && state.sets[key]?.count == 2)
    }

    @Test("a refresh that read a set from the database asks for it to be loaded, unless held or being written")
    func prefetch() {
        var state = Self.state()
        let key = Key(tenant: "acme", segment: "a")
        state.want(key, now: Self.start)
        #expect(state.takePending() == [.members(key)])
        state.finished(.members(key))
        state.beginWrite(key)
        state.want(key, now: Self.start)
        #expect(state.takePending().isEmpty)
    }
}
