import Foundation

/// When a rule's answer for one user can next change with nothing but time
/// passing: the earliest window edge after the evaluation time ("in last 24h"
/// drops an event 24 hours after it happened, "today" turns over at midnight in
/// the user's zone, `more than 30d ago` starts to hold 30 days after the value).
///
/// Real-time segments re-evaluate a user at this instant, so a user who added to
/// cart 24 hours ago leaves `did add_to_cart in last 24h` then, whether or not an
/// event arrives. The answer may be early (an edge that changes nothing, such as a
/// fourth event leaving a count that needs three), never late: every instant at
/// which a condition's result can flip is a candidate. Each boundary is offered
/// as itself and one microsecond after, so inclusive and exclusive edges are both
/// caught (times are whole microseconds in storage).
public struct RuleEdges: Sendable {
    public let context: EvaluationContext

    public init(context: EvaluationContext) {
        self.context = context
    }

    /// The earliest instant after `context.now` at which `rule` may change for the
    /// user with `facts`, or nil when only new data can change it.
    public func next(_ rule: Rule, _ facts: UserFacts) -> Date? {
        var earliest: Date?
        collect(rule, facts) { instant in
            if instant > context.now, earliest.map({ instant < $0 }) ?? true { earliest = instant }
        }
        return earliest
    }

    /// Whether any part of `rule` depends on the evaluation time (only then can time alone change it).
    public static func dependsOnTime(_ rule: Rule) -> Bool {
        switch rule {
        case .all(let children), .any(let children): return children.contains(where: dependsOnTime)
        case .not(let child): return dependsOnTime(child)
        case .behavior(let condition):
            if let window = condition.window, dependsOnTime(window) { return true }
            if condition.filters.contains(where: { dependsOnTime($0.test) }) { return true }
            switch condition.measure {
            case .first(let window), .last(let window): return dependsOnTime(window)
            case .count, .aggregate: return false
            }
        case .attribute(let condition): return dependsOnTime(condition.test)
        case .response(let condition): return condition.window.map(dependsOnTime) ?? false
        case .location(let condition): return condition.seen.map(dependsOnTime) ?? false
        case .tag, .segment: return false
        }
    }

    /// Windows that move with the evaluation time (fixed dates do not).
    public static func dependsOnTime(_ window: TimeWindow) -> Bool {
        switch window {
        case .last, .calendar: return true
        case .since, .before, .between: return false
        }
    }

    /// Value tests that compare with the evaluation time.
    public static func dependsOnTime(_ test: ValueTest) -> Bool {
        switch test {
        case .moreThanAgo, .lessThanAgo: return true
        default: return false
        }
    }

    /// The instant a calendar period containing `context.now` ends in `zone` (when
    /// `today` becomes `yesterday`), and the start of the period before it: data
    /// older than that start is in neither window and cannot move at the boundary.
    public func periodTurn(_ period: CalendarPeriod, in zone: TimeZone) -> (previousStart: Date, boundary: Date) {
        let current: CalendarPeriod
        switch period {
        case .today, .yesterday: current = .today
        case .thisWeek, .lastWeek: current = .thisWeek
        case .thisMonth, .lastMonth: current = .thisMonth
        }
        let (start, end) = context.interval(current, in: zone)
        let previous = EvaluationContext(now: start.addingTimeInterval(-1), tenantTimeZone: zone).interval(current, in: zone)
        return (previous.start, end)
    }

    /// The boundary after `duration` from `time` (an edge of `last N`, `more/less than N ago`).
    private func edges(of time: Date, after duration: RelativeTime, _ offer: (Date) -> Void) {
        let edge = time.addingTimeInterval(Double(duration.seconds))
        offer(edge)
        offer(edge.addingTimeInterval(Self.microsecond))
    }

    /// One microsecond: the resolution of stored times.
    public static let microsecond: TimeInterval = 0.000_001

    private func window(_ window: TimeWindow, times: [Date], attributes: [String: RuleValue], _ offer: (Date) -> Void) {
        switch window {
        case .last(let duration):
            for time in times { edges(of: time, after: duration, offer) }
        case .calendar(let period, let source):
            let turn = periodTurn(period, in: context.timeZone(source, attributes: attributes))
            if times.contains(where: { $0 >= turn.previousStart }) {
                offer(turn.boundary)
                offer(turn.boundary.addingTimeInterval(Self.microsecond))
            }
        case .since, .before, .between:
            break
        }
    }

    private func test(_ test: ValueTest, _ value: RuleValue?, _ offer: (Date) -> Void) {
        guard case .time(let time)? = value else { return }
        switch test {
        case .moreThanAgo(let duration):
            edges(of: time, after: duration, offer)
        case .lessThanAgo(let duration):
            // Holds from the value itself (a future time enters when it comes) until `duration` after it.
            offer(time)
            offer(time.addingTimeInterval(Self.microsecond))
            edges(of: time, after: duration, offer)
        default:
            break
        }
    }

    private func collect(_ rule: Rule, _ facts: UserFacts, _ offer: (Date) -> Void) {
        switch rule {
        case .all(let children), .any(let children):
            for child in children { collect(child, facts, offer) }
        case .not(let child):
            collect(child, facts, offer)
        case .behavior(let condition):
            guard Self.dependsOnTime(rule) else { return }
            // Every event of the type: the filters and windows that select among them move too.
            let events = facts.events.filter { $0.name.hasSameBytes(as: condition.event) }
            let times = events.map(\.time)
            if let conditionWindow = condition.window { window(conditionWindow, times: times, attributes: facts.attributes, offer) }
            switch condition.measure {
            case .first(let measured), .last(let measured): window(measured, times: times, attributes: facts.attributes, offer)
            case .count, .aggregate: break
            }
            for filter in condition.filters where Self.dependsOnTime(filter.test) {
                for event in events { test(filter.test, event.properties[filter.property], offer) }
            }
        case .attribute(let condition):
            test(condition.test, facts.attributes[condition.attribute], offer)
        case .response(let condition):
            guard let responseWindow = condition.window else { return }
            let times = facts.responses.filter { $0.kind == condition.kind }.map(\.time)
            window(responseWindow, times: times, attributes: facts.attributes, offer)
        case .location(let condition):
            guard let seen = condition.seen, let last = facts.lastLocation else { return }
            window(seen, times: [last.time], attributes: facts.attributes, offer)
        case .tag, .segment:
            break
        }
    }
}
