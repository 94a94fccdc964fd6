import Foundation
import Metrics
import SegmentDomain
import SegmentRules
import SegmentStore

/// One tenant's real-time segments as the lease owner keeps them: each
/// segment's members (a mirror of what is stored, at a known member version),
/// and a deadline queue per segment saying when each user must be evaluated
/// again because a window edge passes.
///
/// A ``cycle(now:audience:)`` brings every segment to `now`:
/// 1. Segments that are new, changed, written by someone else (a refresh, an
///    erasure), whose referenced stored segment moved, whose audience was
///    loaded again, or that read the last campaign when it changed, are
///    evaluated whole over the columns (milliseconds) and their queues seeded
///    from the columns (``AudienceEdges``); their dependents too.
/// 2. Deadlines that came due are processed in rounds: each due user is
///    evaluated once per round, at its earliest due instant, in every segment
///    in dependency order, so a user leaves `did add_to_cart in last 24h` at
///    the instant the event turns 24 hours old (stamped with that instant),
///    and a segment referencing it follows at the same instant.
/// 3. Users touched by ingest since the last cycle are evaluated at `now` (or the later
///    `touchedAt`, when the state holds batches appended after `now` for them).
/// Each round's changes are written in one fenced transaction
/// (``RealtimeStore/write(_:lease:)``); a write refused because someone else
/// wrote a segment meanwhile drops this state, and the next cycle starts over.
struct RealtimeTenant {
    let tenant: TenantID
    let store: RealtimeStore
    var lease: RealtimeLease
    /// Past this many seconds behind a deadline, a user is evaluated at the cycle's
    /// `now` rather than at each edge in turn (one write instead of one per edge).
    var catchUpLimit: TimeInterval = 60

    /// The real-time segments in dependency order.
    private(set) var segments: [RealtimeSegmentRow] = []
    /// Their members and the member version those are at.
    private var members: [String: MemberBitmap] = [:]
    private var versions: [String: Int64] = [:]
    /// The revision each segment was evaluated whole at.
    private var revisions: [String: Int64] = [:]
    /// Segments referenced that are not real-time, as stored.
    private var stored: [String: (members: MemberBitmap, state: MemberState)] = [:]
    private var deadlines: [String: DeadlineQueue] = [:]
    /// The audience load and catch-up last looked at.
    private var audienceGeneration: UUID?
    private var overlaySerial = 0
    private var lastContext: EvaluationContext?

    init(tenant: TenantID, store: RealtimeStore, lease: RealtimeLease) {
        self.tenant = tenant
        self.store = store
        self.lease = lease
    }

    /// The earliest pending deadline of any segment.
    var earliestDeadline: Date? {
        deadlines.values.compactMap(\.earliest).min()
    }

    /// Users with a pending deadline, over all segments.
    var pendingDeadlines: Int { deadlines.values.reduce(0) { $0 + $1.count } }

    /// What a cycle did.
    struct CycleOutcome {
        var segments = 0
        var evaluatedWhole = 0
        var evaluatedUsers = 0
        var entered = 0
        var exited = 0
        var writes = 0
    }

    /// Brings every real-time segment to `now` over `audience` (which holds every batch
    /// acknowledged before `now`). Users touched since the last cycle are evaluated at
    /// `touchedAt` when given (a later instant: the state holds batches appended since `now`
    /// for them). Throws ``RealtimeWriteRefusal`` when a write was refused.
    mutating func cycle(now: Date, touchedAt: Date? = nil, audience: TenantAudience) async throws -> CycleOutcome {
        var outcome = CycleOutcome()
        var phases = CyclePhases()
        let watching = Array(members.keys) + Array(stored.keys)
        let (rows, context, states) = try await store.state(of: tenant, now: now, watching: watching)
        phases.end("state")
        let ordered = AudienceEvaluator.dependencyOrder(rows.map { ($0.segmentID, $0.rule) }).map(\.id)
        let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0.segmentID, $0) })
        segments = ordered.compactMap { byID[$0] }
        outcome.segments = segments.count
        let ids = Set(byID.keys)
        for gone in Set(members.keys).subtracting(ids) { forget(gone) }

        // 1. What must be evaluated whole, and whose members must be read again.
        var whole = Set<String>()
        var reread = Set<String>()
        let reloaded = audienceGeneration != audience.generation
        let campaignMoved = lastContext.map { $0.lastCampaign != context.lastCampaign } ?? true
        let zoneMoved = lastContext.map { $0.tenantTimeZone != context.tenantTimeZone } ?? true
        for segment in segments {
            let id = segment.segmentID
            if members[id] == nil || versions[id] != states[id]?.version { reread.insert(id) }
            if reread.contains(id) || revisions[id] != segment.revision || reloaded || zoneMoved
                || (campaignMoved && Self.readsLastCampaign(segment.rule))
            {
                whole.insert(id)
            }
        }
        let referencedStored = Set(segments.flatMap { SegmentReferences.referenced(by: $0.rule) }).subtracting(ids)
        for gone in Set(stored.keys).subtracting(referencedStored) { stored[gone] = nil }
        var movedStored = Set<String>()
        for id in referencedStored where stored[id] == nil || stored[id]?.state != states[id] {
            movedStored.insert(id)
        }
        for segment in segments where !Set(SegmentReferences.referenced(by: segment.rule)).isDisjoint(with: movedStored) {
            whole.insert(segment.segmentID)
        }
        // Dependents of a segment evaluated whole are evaluated whole after it (dependency order).
        for segment in segments where !Set(SegmentReferences.referenced(by: segment.rule)).isDisjoint(with: whole) {
            whole.insert(segment.segmentID)
        }
        let toRead = Array(reread) + Array(movedStored)
        if !toRead.isEmpty {
            for (id, read) in try await store.members(of: toRead, tenant: tenant) {
                let bitmap = MemberBitmap(read.indexes.compactMap { UInt32(exactly: $0) })
                if ids.contains(id) {
                    members[id] = bitmap
                    versions[id] = read.state.version
                } else {
                    stored[id] = (bitmap, read.state)
                }
            }
            for id in movedStored where stored[id] == nil { stored[id] = (MemberBitmap(), MemberState(version: 0, size: 0)) }
            phases.end("members")
        }

        // Users touched since the last cycle, and those the audience no longer has.
        let touched = reloaded ? [] : audience.overlay.users(touchedAfter: overlaySerial)
        let lookedAt = overlaySerial
        audienceGeneration = audience.generation
        overlaySerial = audience.overlay.serial
        lastContext = context

        // 2. Segments evaluated whole, at `now`.
        var final = Changes()
        if !whole.isEmpty {
            var references = stored.mapValues(\.members)
            for (id, bitmap) in members where !whole.contains(id) { references[id] = bitmap }
            let batch = segments.filter { whole.contains($0.segmentID) }.map { (id: $0.segmentID, rule: $0.rule) }
            let evaluated = AudienceEvaluator(audience: audience, context: context, segments: references).members(of: batch)
            for segment in segments where whole.contains(segment.segmentID) {
                let id = segment.segmentID
                let fresh = evaluated.members[id] ?? MemberBitmap()
                let current = members[id] ?? MemberBitmap()
                for user in fresh.subtracting(current) { final.add(id, user, entered: true, at: now) }
                for user in current.subtracting(fresh) { final.add(id, user, entered: false, at: now) }
                members[id] = fresh
                revisions[id] = segment.revision
                final.evaluated[id] = segment.revision
                deadlines[id] = seed(segment.rule, audience: audience, context: context, members: fresh)
                outcome.evaluatedWhole += 1
            }
            phases.end("whole")
        }

        // 3. Deadlines that came due, in rounds, each user at its earliest due instant.
        let partial = segments.filter { !whole.contains($0.segmentID) }
        var facts = FactsCache(audience: audience)
        while true {
            var due: [UInt32: Date] = [:]
            for segment in partial {
                while let entry = deadlines[segment.segmentID]?.popDue(at: now) {
                    due[entry.user] = min(due[entry.user] ?? entry.instant, entry.instant)
                }
            }
            guard !due.isEmpty else { break }
            try await facts.load(Array(due.keys), store: store, tenant: tenant)
            phases.end("deadline_facts")
            var round = Changes()
            for (user, due) in due.sorted(by: { $0.value < $1.value }) {
                // Far behind (after a stop), a user is evaluated at `now` instead of edge by edge.
                let instant = now.timeIntervalSince(due) > catchUpLimit ? now : Self.wholeMicrosecond(due)
                evaluate(user, at: instant, in: partial, context: context, facts: facts[user], into: &round)
                outcome.evaluatedUsers += 1
            }
            phases.end("deadlines")
            try await write(round, outcome: &outcome)
            phases.end("write")
        }

        // 4. Users ingest touched, at `now`, in the segments that read what changed for them.
        if !partial.isEmpty {
            let reads = Dictionary(uniqueKeysWithValues: partial.map { ($0.segmentID, $0.rule.eventNames) })
            for user in touched {
                let change = audience.overlay.change(of: user, after: lookedAt)
                let affected = change == .anything ? partial : Self.segments(partial, affectedBy: change, reads: reads)
                guard !affected.isEmpty else { continue }
                evaluate(user, at: max(touchedAt ?? now, now), in: affected, context: context, facts: facts[user], into: &final)
                outcome.evaluatedUsers += 1
            }
            phases.end("touched")
        }
        try await write(final, outcome: &outcome)
        phases.end("write")
        return outcome
    }

    /// Evaluates one user in `segments` (dependency order) at `instant`, recording
    /// changes against the members and rescheduling the user's deadlines.
    private mutating func evaluate(
        _ user: UInt32, at instant: Date, in segments: [RealtimeSegmentRow], context: EvaluationContext, facts: UserFacts?,
        into changes: inout Changes
    ) {
        var at = context
        at.now = instant
        let evaluator = RuleEvaluator(context: at)
        let edges = RuleEdges(context: at)
        for segment in segments {
            let id = segment.segmentID
            let isMember = members[id]?.contains(user) ?? false
            guard var userFacts = facts else {
                // Erased (no facts: the overlay knows them gone, or PostgreSQL has no such user): the erasure
                // removed the stored rows already, and moved the versions.
                deadlines[id]?.remove(user)
                if isMember { members[id]?.remove(user) }
                continue
            }
            let referenced = SegmentReferences.referenced(by: segment.rule)
            if !referenced.isEmpty {
                userFacts.segments = Set(referenced.filter { members[$0]?.contains(user) ?? stored[$0]?.members.contains(user) ?? false })
            }
            let matches = evaluator.matches(segment.rule, userFacts)
            if matches != isMember {
                changes.add(id, user, entered: matches, at: instant)
                if matches { members[id, default: MemberBitmap()].insert(user) } else { members[id]?.remove(user) }
            }
            deadlines[id, default: DeadlineQueue()].schedule(user, at: edges.next(segment.rule, userFacts))
        }
    }

    /// A segment's deadline queue after a whole evaluation: the columns' users from
    /// the columns, the overlay's from their facts.
    private func seed(_ rule: Rule, audience: TenantAudience, context: EvaluationContext, members: MemberBitmap) -> DeadlineQueue {
        var queue = DeadlineQueue()
        guard RuleEdges.dependsOnTime(rule) else { return queue }
        for (user, instant) in AudienceEdges(audience: audience, context: context).next(rule) { queue.schedule(user, at: instant) }
        let edges = RuleEdges(context: context)
        let referenced = SegmentReferences.referenced(by: rule)
        for (user, facts) in audience.overlay.facts {
            var facts = facts
            if !referenced.isEmpty {
                facts.segments = Set(referenced.filter { self.members[$0]?.contains(user) ?? stored[$0]?.members.contains(user) ?? false })
            }
            queue.schedule(user, at: edges.next(rule, facts))
        }
        return queue
    }

    /// Writes a round's changes (fenced); on success the segments are at the new versions.
    private mutating func write(_ changes: Changes, outcome: inout CycleOutcome) async throws {
        guard !changes.isEmpty else { return }
        let writes = Set(changes.bySegment.keys).union(changes.evaluated.keys).map { id in
            RealtimeWrite(
                segmentID: id, expectedVersion: versions[id] ?? 0, changes: changes.bySegment[id] ?? [], evaluatedRevision: changes.evaluated[id])
        }
        let states = try await store.write(writes, lease: lease)
        for (id, state) in states { versions[id] = state.version }
        if !changes.bySegment.isEmpty { outcome.writes += 1 }
        for list in changes.bySegment.values {
            for change in list {
                if change.entered { outcome.entered += 1 } else { outcome.exited += 1 }
            }
        }
    }

    private mutating func forget(_ id: String) {
        members[id] = nil
        versions[id] = nil
        revisions[id] = nil
        deadlines[id] = nil
    }

    /// The segments (dependency order kept) whose answer for a user can move with `change`:
    /// those that read an event type that arrived, and those that reference one of them.
    static func segments(
        _ segments: [RealtimeSegmentRow], affectedBy change: AudienceOverlay.UserChange, reads: [String: Set<String>]
    ) -> [RealtimeSegmentRow] {
        guard case .events(let arrived) = change else { return segments }
        guard !arrived.isEmpty else { return [] }
        var affected = Set<String>()
        return segments.filter { segment in
            let moves =
                !(reads[segment.segmentID] ?? []).isDisjoint(with: arrived)
                || SegmentReferences.referenced(by: segment.rule).contains(where: affected.contains)
            if moves { affected.insert(segment.segmentID) }
            return moves
        }
    }

    /// The first whole microsecond at or after `date`: stored times are whole microseconds, so a
    /// change is evaluated at the instant it will be stored with.
    static func wholeMicrosecond(_ date: Date) -> Date {
        AudienceTime.date(WindowBounds.firstMicrosecond(atOrAfter: date))
    }

    /// Whether the rule reads the tenant's last campaign (which changes for everyone at once).
    static func readsLastCampaign(_ rule: Rule) -> Bool {
        switch rule {
        case .all(let children), .any(let children): children.contains(where: readsLastCampaign)
        case .not(let child): readsLastCampaign(child)
        case .response(let condition): condition.campaign == .last
        default: false
        }
    }

    /// Records how long each part of a cycle takes (`segmentd_realtime_cycle_phase_seconds`):
    /// freshness is the sum, and the parts say which to cut.
    struct CyclePhases {
        private var last: ContinuousClock.Instant

        init(since start: ContinuousClock.Instant = .now) {
            last = start
        }

        /// The phase named `phase` ends now (a phase may end several times in a cycle; each is recorded).
        mutating func end(_ phase: String) {
            let now = ContinuousClock.now
            let took = now - last
            last = now
            Metrics.Timer(label: "segmentd_realtime_cycle_phase_seconds", dimensions: [("phase", phase)])
                .recordNanoseconds(took.components.seconds * 1_000_000_000 + took.components.attoseconds / 1_000_000_000)
        }
    }

    /// Changes of one round, per segment.
    struct Changes {
        var bySegment: [String: [(user: UInt32, entered: Bool, at: Date)]] = [:]
        /// Segments evaluated whole, at their revision.
        var evaluated: [String: Int64] = [:]
        var isEmpty: Bool { bySegment.isEmpty && evaluated.isEmpty }
        mutating func add(_ segment: String, _ user: UInt32, entered: Bool, at instant: Date) {
            bySegment[segment, default: []].append((user, entered, instant))
        }
    }

    /// Facts of users evaluated one by one: the overlay's for users ingest touched,
    /// read from PostgreSQL (once per cycle) for users the columns hold.
    struct FactsCache {
        let audience: TenantAudience
        private var loaded: [UInt32: UserFacts] = [:]
        private var asked = Set<UInt32>()

        init(audience: TenantAudience) {
            self.audience = audience
        }

        mutating func load(_ users: [UInt32], store: RealtimeStore, tenant: TenantID) async throws {
            let missing = users.filter { !audience.overlay.touched.contains($0) && !asked.contains($0) }
            guard !missing.isEmpty else { return }
            asked.formUnion(missing)
            for (user, facts) in try await store.facts(of: missing, tenant: tenant) { loaded[user] = facts }
        }

        subscript(user: UInt32) -> UserFacts? {
            if audience.overlay.touched.contains(user) { return audience.overlay.facts[user] }
            return loaded[user]
        }
    }
}
