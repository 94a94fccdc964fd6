import Foundation
import SegmentRules
import Synchronization

/// Conditions already evaluated over one state's columns, so segments refreshed
/// one after another (a schedule tick, a batch refresh, dependency order)
/// evaluate each distinct condition once.
///
/// Two kinds are kept. Conditions whose members cannot change while the columns
/// stay the same (no window or test relative to now, no "last campaign", no
/// segment reference: ``Rule/isFixedOverColumns``) are kept for as long as the
/// state's columns live. Conditions that also depend on the instant and the
/// tenant's time zone (rolling and calendar windows, "… ago": ``Rule/isFixedAtInstant``)
/// are kept only for refreshes queued together, which share one evaluation
/// instant, and only for the latest such instant. The columns never change (a
/// catch-up adds an overlay, which is applied after the columns' answer); a
/// reload starts a new memo. Each kind is bounded by bytes: when full it starts over.
public final class ConditionMemo: Sendable {
    /// Where a condition's members were evaluated: the instant and zone its windows end in.
    struct Instant: Equatable {
        let now: Date
        let zone: String
    }

    private struct State {
        /// A condition's members have no state beyond the columns: every tag is the same.
        var members: BoundedBitmaps<Rule, Bool>
        /// Time-dependent conditions, each tagged with the instant it was evaluated at.
        var timed: BoundedBitmaps<Rule, Instant>
        /// The latest shared instant seen: older ones are evaluated but not kept.
        var latest: Instant?
        var reused = 0
        var evaluated = 0
    }

    private let state: Mutex<State>

    public init(maxBytes: Int = 64 << 20) {
        state = Mutex(State(members: BoundedBitmaps(maxBytes: maxBytes), timed: BoundedBitmaps(maxBytes: maxBytes)))
    }

    /// `rule`'s column members at `instant` (shared by a batch of refreshes), evaluated by `evaluate` unless kept.
    func members(_ rule: Rule, at instant: Instant, evaluate: () -> MemberBitmap) -> MemberBitmap {
        members(evaluate, kept: { $0.timed.bitmap(for: rule, tag: instant) }) { state, members in
            if let latest = state.latest, latest != instant {
                // A batch at a later instant: the earlier batch's conditions are done with.
                guard latest.now < instant.now else { return }
                state.timed = BoundedBitmaps(maxBytes: state.timed.maxBytes)
            }
            state.latest = instant
            state.timed.keep(members, for: rule, tag: instant)
        }
    }

    /// `rule`'s column members, evaluated by `evaluate` unless kept.
    func members(_ rule: Rule, evaluate: () -> MemberBitmap) -> MemberBitmap {
        members(evaluate, kept: { $0.members.bitmap(for: rule, tag: true) }) { state, members in
            state.members.keep(members, for: rule, tag: true)
        }
    }

    /// What `kept` finds, counted as reused; else `evaluate`'s answer, counted and handed to `keep`.
    private func members(
        _ evaluate: () -> MemberBitmap, kept: (State) -> MemberBitmap?, keep: (inout State, MemberBitmap) -> Void
    ) -> MemberBitmap {
        if let found = state.withLock({ state -> MemberBitmap? in
            let found = kept(state)
            if found != nil { state.reused += 1 }
            return found
        }) {
            return found
        }
        let members = evaluate()
        state.withLock { state in
            state.evaluated += 1
            keep(&state, members)
        }
        return members
    }

    /// Conditions answered from the memo, and evaluated, so far.
    public var counts: (reused: Int, evaluated: Int) { state.withLock { ($0.reused, $0.evaluated) } }

    /// Bytes of the bitmaps kept.
    public var bytesHeld: Int { state.withLock { $0.members.bytes + $0.timed.bytes } }
}

extension Rule {
    /// Whether the rule's members depend only on the tenant's data: no rolling or
    /// calendar window, no "more/less than … ago", no last campaign (which moves as
    /// campaigns are sent), no segment reference (whose members a refresh changes).
    var isFixedOverColumns: Bool { isFixed(atInstant: false) }

    /// Whether the rule's members depend only on the tenant's data, the evaluation
    /// instant and the tenant's time zone: rolling and calendar windows and "… ago"
    /// tests allowed; still no last campaign, no segment reference.
    var isFixedAtInstant: Bool { isFixed(atInstant: true) }

    private func isFixed(atInstant: Bool) -> Bool {
        func fixed(_ window: TimeWindow?) -> Bool {
            switch window {
            case nil, .since, .before, .between: return true
            case .last, .calendar: return atInstant
            }
        }
        func fixed(_ test: ValueTest) -> Bool {
            switch test {
            case .moreThanAgo, .lessThanAgo: return atInstant
            default: return true
            }
        }
        switch self {
        case .all(let children), .any(let children): return children.allSatisfy { $0.isFixed(atInstant: atInstant) }
        case .not(let child): return child.isFixed(atInstant: atInstant)
        case .behavior(let condition):
            let measure: Bool
            switch condition.measure {
            case .count, .aggregate: measure = true
            case .first(let window), .last(let window): measure = fixed(window)
            }
            return measure && fixed(condition.window) && condition.filters.allSatisfy { fixed($0.test) }
        case .attribute(let condition): return fixed(condition.test)
        case .response(let condition):
            if case .last = condition.campaign { return false }
            return fixed(condition.window)
        case .tag: return true
        case .location(let condition): return fixed(condition.seen)
        case .segment: return false
        }
    }
}
