import Foundation

/// Restates a rule in plain language for people: "Users who performed
/// add_to_cart in the last 24 hours and did not perform purchase in the last
/// 24 hours".
public enum RuleRestatement {
    public static func describe(_ rule: Rule) -> String {
        "Users " + clause(rule, top: true)
    }

    static func clause(_ rule: Rule, top: Bool = false) -> String {
        switch rule {
        case .all(let children):
            if children.isEmpty { return "(all of them)" }
            if children.count == 1 { return clause(children[0], top: top) }
            let text = children.map { clause($0) }.joined(separator: " and ")
            return top ? text : "(" + text + ")"
        case .any(let children):
            if children.isEmpty { return "(none: an empty 'any' matches nobody)" }
            if children.count == 1 { return clause(children[0], top: top) }
            let text = children.map { clause($0) }.joined(separator: " or ")
            return top ? text : "(" + text + ")"
        case .not(let child):
            // Leaves with a negated form read naturally ("did not perform purchase").
            switch child {
            case .behavior(var condition):
                if case .count = condition.measure {
                    condition.negated.toggle()
                    return behavior(condition)
                }
            case .tag(var condition):
                condition.negated.toggle()
                return clause(.tag(condition))
            case .segment(var condition):
                condition.negated.toggle()
                return clause(.segment(condition))
            case .response(var condition):
                condition.negated.toggle()
                return clause(.response(condition))
            default: break
            }
            return "who are not among the users " + clause(child)
        case .behavior(let condition): return behavior(condition)
        case .attribute(let condition): return "whose " + condition.attribute + " " + test(condition.test)
        case .response(let condition):
            let campaign: String
            switch condition.campaign {
            case .last: campaign = "the last campaign"
            case .any: campaign = "any campaign"
            case .campaign(let id): campaign = "campaign \(id)"
            }
            let window = condition.window.map { " " + self.window($0) } ?? ""
            if condition.negated { return "who did not \(ResponseVerb.present(condition.kind)) \(campaign)\(window)" }
            return "who \(condition.kind.rawValue) \(campaign)\(window)"
        case .tag(let condition): return condition.negated ? "who do not have the tag \(condition.tag)" : "who have the tag \(condition.tag)"
        case .location(let condition):
            var text: String
            switch condition.place {
            case .within(let latitude, let longitude, let meters):
                text = "who were last seen within \(distance(meters)) of (\(RulePrinter.number(latitude)), \(RulePrinter.number(longitude)))"
            case .city(let city): text = "who are in the city \(RulePrinter.string(city))"
            case .country(let country): text = "who are in the country \(RulePrinter.string(country))"
            case .anywhere: text = "who have a known location"
            }
            if let seen = condition.seen { text += ", seen " + window(seen) }
            return text
        case .segment(let condition):
            return condition.negated ? "who are not in segment \(condition.segment)" : "who are in segment \(condition.segment)"
        }
    }

    static func behavior(_ condition: BehaviorCondition) -> String {
        var scope = ""
        if let window = condition.window { scope += " " + self.window(window) }
        if !condition.filters.isEmpty {
            scope += " where " + condition.filters.map { "\($0.property) \(test($0.test))" }.joined(separator: " and ")
        }
        switch condition.measure {
        case .count(let comparison):
            let count = comparison == .greaterOrEqual(1) ? "" : " " + times(comparison)
            return (condition.negated ? "who did not perform " : "who performed ") + condition.event + count + scope
        case .aggregate(let function, let property, let comparison):
            let name: String
            switch function {
            case .sum: name = "a total"
            case .avg: name = "an average"
            case .min: name = "a smallest"
            case .max: name = "a largest"
            }
            return "who have \(name) \(condition.event).\(property)\(scope) \(condition.negated ? "not " : "")\(compared(comparison))"
        case .first(let when):
            return
                "who \(condition.negated ? "did not " : "")first perform\(condition.negated ? "" : "ed") \(condition.event)\(scope) \(window(when))"
        case .last(let when):
            return "who \(condition.negated ? "did not " : "")last perform\(condition.negated ? "" : "ed") \(condition.event)\(scope) \(window(when))"
        }
    }

    /// " in last 30d where amount > 100" for observations.
    static func behaviorScope(_ condition: BehaviorCondition) -> String {
        var scope = ""
        if let window = condition.window { scope += " " + RulePrinter.window(window) }
        if !condition.filters.isEmpty {
            scope += " where " + condition.filters.map { "\($0.property) \(RulePrinter.test($0.test))" }.joined(separator: " and ")
        }
        return scope
    }

    /// "at least 3" for observations.
    static func needed(_ comparison: Comparison) -> String {
        switch comparison {
        case .equal(let value): return "exactly " + RulePrinter.number(value)
        case .notEqual(let value): return "other than " + RulePrinter.number(value)
        case .less(let value): return "fewer than " + RulePrinter.number(value)
        case .lessOrEqual(let value): return "at most " + RulePrinter.number(value)
        case .greater(let value): return "more than " + RulePrinter.number(value)
        case .greaterOrEqual(let value): return "at least " + RulePrinter.number(value)
        case .between(let low, let high): return "between \(RulePrinter.number(low)) and \(RulePrinter.number(high))"
        }
    }

    /// What decides a condition for the user, as an explanation says it: the comparison
    /// itself, or for a negated condition (`did not …`, `not sum(…) >= 500`) its opposite,
    /// since that is what the user's value must meet for the node to hold.
    static func needed(_ comparison: Comparison, negated: Bool, isCount: Bool) -> String {
        guard negated else { return needed(comparison) }
        let below = isCount ? "fewer than " : "below "
        switch comparison {
        case .greaterOrEqual(1) where isCount: return "0"
        case .greater(0) where isCount: return "0"
        case .equal(let value): return "other than " + RulePrinter.number(value)
        case .notEqual(let value): return "exactly " + RulePrinter.number(value)
        case .less(let value): return "at least " + RulePrinter.number(value)
        case .lessOrEqual(let value): return "more than " + RulePrinter.number(value)
        case .greater(let value): return "at most " + RulePrinter.number(value)
        case .greaterOrEqual(let value): return below + RulePrinter.number(value)
        case .between(let low, let high): return "outside \(RulePrinter.number(low)) and \(RulePrinter.number(high))"
        }
    }

    static func distance(_ meters: Double) -> String {
        if meters >= 1000, meters.truncatingRemainder(dividingBy: 1000) == 0 { return RulePrinter.number(meters / 1000) + " km" }
        return RulePrinter.number(meters) + " m"
    }

    static func times(_ comparison: Comparison) -> String {
        func n(_ value: Double) -> String { value == 1 ? "once" : "\(RulePrinter.number(value)) times" }
        switch comparison {
        case .equal(let value): return "exactly " + n(value)
        case .notEqual(let value): return "other than " + n(value)
        case .less(let value): return "fewer than " + n(value)
        case .lessOrEqual(let value): return "at most " + n(value)
        case .greater(let value): return "more than " + n(value)
        case .greaterOrEqual(let value): return "at least " + n(value)
        case .between(let low, let high): return "between \(RulePrinter.number(low)) and \(RulePrinter.number(high)) times"
        }
    }

    static func compared(_ comparison: Comparison) -> String {
        switch comparison {
        case .equal(let value): return "of exactly " + RulePrinter.number(value)
        case .notEqual(let value): return "other than " + RulePrinter.number(value)
        case .less(let value): return "below " + RulePrinter.number(value)
        case .lessOrEqual(let value): return "of at most " + RulePrinter.number(value)
        case .greater(let value): return "above " + RulePrinter.number(value)
        case .greaterOrEqual(let value): return "of at least " + RulePrinter.number(value)
        case .between(let low, let high): return "between \(RulePrinter.number(low)) and \(RulePrinter.number(high))"
        }
    }

    static func test(_ test: ValueTest) -> String {
        func list(_ values: [Literal]) -> String { values.map(RulePrinter.literal).joined(separator: ", ") }
        switch test {
        case .equals(let value): return "is " + RulePrinter.literal(value)
        case .notEquals(let value): return "is set and is not " + RulePrinter.literal(value)
        case .isIn(let values): return "is one of " + list(values)
        case .notIn(let values): return "is set and is none of " + list(values)
        case .contains(let value): return "contains " + RulePrinter.literal(value)
        case .startsWith(let text): return "starts with " + RulePrinter.string(text)
        case .endsWith(let text): return "ends with " + RulePrinter.string(text)
        case .exists: return "is set"
        case .notSet: return "is not set"
        case .less(let value): return "is below " + RulePrinter.literal(value)
        case .lessOrEqual(let value): return "is at most " + RulePrinter.literal(value)
        case .greater(let value): return "is above " + RulePrinter.literal(value)
        case .greaterOrEqual(let value): return "is at least " + RulePrinter.literal(value)
        case .between(let low, let high): return "is between \(RulePrinter.literal(low)) and \(RulePrinter.literal(high))"
        case .containsAny(let values): return "contains any of " + values.map(RulePrinter.string).joined(separator: ", ")
        case .containsAll(let values): return "contains all of " + values.map(RulePrinter.string).joined(separator: ", ")
        case .moreThanAgo(let duration): return "is more than \(words(duration)) ago"
        case .lessThanAgo(let duration): return "is less than \(words(duration)) ago"
        }
    }

    static func words(_ duration: RelativeTime) -> String {
        let unit = duration.unit.words
        return duration.amount == 1 ? "1 " + String(unit.dropLast()) : "\(duration.amount) \(unit)"
    }

    static func window(_ window: TimeWindow) -> String {
        switch window {
        case .last(let duration):
            return duration.amount == 1 ? "in the last \(String(duration.unit.words.dropLast()))" : "in the last \(words(duration))"
        case .since(let date): return "since " + RulePrinter.time(date)
        case .before(let date): return "before " + RulePrinter.time(date)
        case .between(let start, let end): return "between \(RulePrinter.time(start)) and \(RulePrinter.time(end))"
        case .calendar(let period, let zone): return period.rawValue + (zone == .user ? " (in the user's time zone)" : "")
        }
    }
}

/// Present-tense verbs of response kinds ("did not click").
enum ResponseVerb {
    static func present(_ kind: ResponseKind) -> String {
        switch kind {
        case .received: return "receive"
        case .opened: return "open"
        case .clicked: return "click"
        case .converted: return "convert on"
        }
    }
}
