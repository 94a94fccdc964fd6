import Foundation

/// Evaluates a rule for one user from that user's facts, without SQL: the
/// second, independent implementation the SQL compiler is tested against, and
/// the engine behind "why is this user (not) in this segment".
public struct RuleEvaluator: Sendable {
    public let context: EvaluationContext

    public init(context: EvaluationContext) {
        self.context = context
    }

    /// Whether the user matches.
    public func matches(_ rule: Rule, _ facts: UserFacts) -> Bool {
        switch rule {
        case .all(let children): return children.allSatisfy { matches($0, facts) }
        case .any(let children): return children.contains { matches($0, facts) }
        case .not(let child): return !matches(child, facts)
        default: return leaf(rule, facts, explaining: false).result
        }
    }

    /// The rule tree with each node's result and what was observed.
    public func explain(_ rule: Rule, _ facts: UserFacts) -> Explanation {
        switch rule {
        case .all(let children):
            let parts = children.map { explain($0, facts) }
            let failed = parts.filter { !$0.result }.count
            return Explanation(
                text: RuleText.print(rule), result: failed == 0,
                observed: failed == 0
                    ? "all \(parts.count) conditions hold"
                    : "\(failed) of \(parts.count) condition\(parts.count == 1 ? "" : "s") \(failed == 1 ? "does" : "do") not hold",
                children: parts)
        case .any(let children):
            let parts = children.map { explain($0, facts) }
            let held = parts.filter(\.result).count
            return Explanation(
                text: RuleText.print(rule), result: held > 0,
                observed: held > 0
                    ? "\(held) of \(parts.count) condition\(parts.count == 1 ? "" : "s") \(held == 1 ? "holds" : "hold")"
                    : "none of \(parts.count) condition\(parts.count == 1 ? "" : "s") holds",
                children: parts)
        case .not(let child):
            let inner = explain(child, facts)
            return Explanation(
                text: RuleText.print(rule), result: !inner.result,
                observed: inner.result ? "the condition inside holds" : "the condition inside does not hold", children: [inner])
        default:
            let (result, observed) = leaf(rule, facts, explaining: true)
            return Explanation(text: RuleText.print(rule), result: result, observed: observed, children: [])
        }
    }

    // MARK: Leaves

    /// A leaf's result, and (when `explaining`) what was observed: `matches` asks for the
    /// result alone, so membership checks and real-time segments build no text.
    private func leaf(_ rule: Rule, _ facts: UserFacts, explaining: Bool) -> (result: Bool, observed: String) {
        switch rule {
        case .behavior(let condition): return behavior(condition, facts, explaining: explaining)
        case .attribute(let condition):
            let value = facts.attributes[condition.attribute]
            let result = condition.test.matches(value, now: context.now)
            return (result, explaining ? "\(condition.attribute) = \(Self.describe(value))" : "")
        case .response(let condition): return response(condition, facts, explaining: explaining)
        case .tag(let condition):
            let has = facts.tags.contains(condition.tag)
            return (has != condition.negated, has ? "has the tag" : "does not have the tag")
        case .location(let condition): return location(condition, facts, explaining: explaining)
        case .segment(let condition):
            let member = facts.segments.contains(condition.segment)
            return (member != condition.negated, member ? "is a member" : "is not a member")
        case .all, .any, .not:
            return (matches(rule, facts), "")
        }
    }

    /// What a behavior condition observes in one pass over the user's events: how many
    /// it selects, the numeric values of an aggregate's property, and the first and last time.
    private struct BehaviorObservation {
        var count = 0
        var values: [Double] = []
        var first: Date?
        var last: Date?
    }

    private func observe(_ condition: BehaviorCondition, _ facts: UserFacts) -> BehaviorObservation {
        let window = condition.window.map { context.resolve($0, attributes: facts.attributes) }
        var aggregated: String?
        if case .aggregate(_, let property, _) = condition.measure { aggregated = property }
        var observation = BehaviorObservation()
        for event in facts.events where event.name.hasSameBytes(as: condition.event) {
            guard window?.contains(event.time) ?? true,
                condition.filters.allSatisfy({ $0.test.matches(event.properties[$0.property], now: context.now) })
            else { continue }
            observation.count += 1
            if let property = aggregated, case .number(let value)? = event.properties[property] { observation.values.append(value) }
            if observation.first.map({ event.time < $0 }) ?? true { observation.first = event.time }
            if observation.last.map({ event.time > $0 }) ?? true { observation.last = event.time }
        }
        return observation
    }

    private func behavior(_ condition: BehaviorCondition, _ facts: UserFacts, explaining: Bool) -> (result: Bool, observed: String) {
        let observation = observe(condition, facts)
        let held: Bool
        var observed = ""
        let scope = explaining ? RuleRestatement.behaviorScope(condition) : ""
        switch condition.measure {
        case .count(let comparison):
            held = comparison.holds(Double(observation.count))
            if explaining {
                observed =
                    "\(condition.event) count\(scope) = \(observation.count), needed \(RuleRestatement.needed(comparison, negated: condition.negated, isCount: true))"
            }
        case .aggregate(let function, let property, let comparison):
            let value = RuleSemantics.aggregate(function, observation.values)
            held = value.map(comparison.holds) ?? false
            if explaining {
                observed =
                    "\(function.rawValue)(\(condition.event).\(property))\(scope) = \(value.map(RulePrinter.number) ?? "none (no values)"), needed "
                    + RuleRestatement.needed(comparison, negated: condition.negated, isCount: false)
                    + (condition.negated && function != .sum ? " or no values" : "")
            }
        case .first(let window), .last(let window):
            let isFirst: Bool
            if case .first = condition.measure { isFirst = true } else { isFirst = false }
            let time = isFirst ? observation.first : observation.last
            held = time.map { context.contains(window, $0, attributes: facts.attributes) } ?? false
            if explaining {
                observed =
                    "\(isFirst ? "first" : "last") \(condition.event)\(scope) at \(time.map(RulePrinter.time) ?? "never"), needed "
                    + (condition.negated ? "not " : "") + RuleRestatement.window(window)
            }
        }
        return (held != condition.negated, observed)
    }

    private func response(_ condition: ResponseCondition, _ facts: UserFacts, explaining: Bool) -> (result: Bool, observed: String) {
        let campaign: String?
        switch condition.campaign {
        case .campaign(let id): campaign = id
        case .last:
            guard let last = context.lastCampaign else { return (condition.negated, "the tenant has no campaign yet") }
            campaign = last
        case .any: campaign = nil
        }
        let window = condition.window.map { context.resolve($0, attributes: facts.attributes) }
        let count = facts.responses.count(where: { response in
            response.kind == condition.kind
                && (campaign.map { ValueTest.same(response.campaign, $0) } ?? true)
                && (window?.contains(response.time) ?? true)
        })
        guard explaining else { return ((count > 0) != condition.negated, "") }
        let which: String
        switch condition.campaign {
        case .last: which = "the last campaign (\(campaign ?? ""))"
        case .campaign(let id): which = "campaign \(id)"
        case .any: which = "any campaign"
        }
        let windowText = condition.window.map { " " + RulePrinter.window($0) } ?? ""
        return ((count > 0) != condition.negated, "\(condition.kind.rawValue) responses to \(which)\(windowText) = \(count)")
    }

    private func location(_ condition: LocationCondition, _ facts: UserFacts, explaining: Bool) -> (result: Bool, observed: String) {
        let seen: Bool
        if let window = condition.seen {
            seen = facts.lastLocation.map { context.contains(window, $0.time, attributes: facts.attributes) } ?? false
        } else {
            seen = true
        }
        switch condition.place {
        case .anywhere:
            guard let last = facts.lastLocation else { return (false, "no known location") }
            return (seen, explaining ? "last seen at \(RulePrinter.time(last.time))" : "")
        case .within(let latitude, let longitude, let meters):
            guard let last = facts.lastLocation else { return (false, "no known location") }
            let distance = RuleSemantics.distance(from: last.latitude, last.longitude, to: latitude, longitude)
            return (
                seen && distance <= meters,
                explaining ? "last location \(Int(distance.rounded())) m away, seen at \(RulePrinter.time(last.time))" : ""
            )
        case .city(let city), .country(let city):
            let attribute: String
            if case .city = condition.place { attribute = RuleSemantics.cityAttribute } else { attribute = RuleSemantics.countryAttribute }
            guard case .string(let value)? = facts.attributes[attribute] else { return (false, "\(attribute) is not set") }
            let same = RuleSemantics.asciiLowercased(value) == RuleSemantics.asciiLowercased(city)
            guard explaining else { return (same && seen, "") }
            let seenAt = facts.lastLocation.map { ", seen at " + RulePrinter.time($0.time) } ?? ""
            return (same && seen, "\(attribute) = \(RulePrinter.string(value))\(seenAt)")
        }
    }

    static func describe(_ value: RuleValue?) -> String {
        switch value {
        case nil: return "(not set)"
        case .string(let text): return RulePrinter.string(text)
        case .number(let number): return RulePrinter.number(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .time(let date): return RulePrinter.time(date)
        case .list(let items): return RulePrinter.list(items.map(RulePrinter.string))
        }
    }
}

/// One node of an explanation: its text, its result for the user, and what was observed.
public struct Explanation: Sendable, Equatable {
    public var text: String
    public var result: Bool
    public var observed: String
    public var children: [Explanation]

    public init(text: String, result: Bool, observed: String, children: [Explanation]) {
        self.text = text
        self.result = result
        self.observed = observed
        self.children = children
    }

    /// An indented tree for people ("✓ did purchase … — purchase count in last 30d = 2, needed at least 3").
    public func rendered(indent: Int = 0) -> String {
        var line = String(repeating: "  ", count: indent) + (result ? "✓ " : "✗ ") + text
        if !observed.isEmpty { line += "  — " + observed }
        return ([line] + children.map { $0.rendered(indent: indent + 1) }).joined(separator: "\n")
    }
}
