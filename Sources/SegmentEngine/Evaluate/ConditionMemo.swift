import SegmentRules
import Synchronization

/// Conditions already evaluated over one state's columns, so segments refreshed
/// one after another (a schedule tick, a `refresh_many`, dependency order)
/// evaluate each distinct condition once.
///
/// Only conditions whose members cannot change while the columns stay the same
/// are kept: no window or test relative to now, no "last campaign", no segment
/// reference (see ``Rule/isFixedOverColumns``). The columns never change (a
/// catch-up adds an overlay, which is applied after the columns' answer), so a
/// kept bitmap is right for as long as the state's columns live; a reload
/// starts a new memo. Bounded by bytes: when full it starts over.
public final class ConditionMemo: Sendable {
    private struct State {
        /// A condition's members have no state beyond the columns: every tag is the same.
        var members: BoundedBitmaps<Rule, Bool>
        var reused = 0
        var evaluated = 0
    }

    private let state: Mutex<State>

    public init(maxBytes: Int = 64 << 20) {
        state = Mutex(State(members: BoundedBitmaps(maxBytes: maxBytes)))
    }

    /// `rule`'s column members, evaluated by `evaluate` unless kept.
    func members(_ rule: Rule, evaluate: () -> MemberBitmap) -> MemberBitmap {
        if let kept = state.withLock({ state -> MemberBitmap? in
            let kept = state.members.bitmap(for: rule, tag: true)
            if kept != nil { state.reused += 1 }
            return kept
        }) {
            return kept
        }
        let members = evaluate()
        state.withLock { state in
            state.evaluated += 1
            state.members.keep(members, for: rule, tag: true)
        }
        return members
    }

    /// Conditions answered from the memo, and evaluated, so far.
    public var counts: (reused: Int, evaluated: Int) { state.withLock { ($0.reused, $0.evaluated) } }

    /// Bytes of the bitmaps kept.
    public var bytesHeld: Int { state.withLock { $0.members.bytes } }
}

extension Rule {
    /// Whether the rule's members depend only on the tenant's data: no rolling or
    /// calendar window, no "more/less than … ago", no last campaign (which moves as
    /// campaigns are sent), no segment reference (whose members a refresh changes).
    var isFixedOverColumns: Bool {
        func fixed(_ window: TimeWindow?) -> Bool {
            switch window {
            case nil, .since, .before, .between: return true
            case .last, .calendar: return false
            }
        }
        func fixed(_ test: ValueTest) -> Bool {
            switch test {
            case .moreThanAgo, .lessThanAgo: return false
            default: return true
            }
        }
        switch self {
        case .all(let children), .any(let children): return children.allSatisfy(\.isFixedOverColumns)
        case .not(let child): return child.isFixedOverColumns
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
