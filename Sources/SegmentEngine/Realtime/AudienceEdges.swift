import Foundation
import SegmentRules
import SegmentStore

/// ``RuleEdges`` over a loaded audience's columns: for every user the columns
/// answer, the earliest instant after the evaluation time at which a rule may
/// change with time alone. A real-time segment seeds its deadline queue with it
/// once (when it starts being kept); after that each user's next edge comes from
/// their facts whenever they are evaluated.
///
/// The candidates are those of ``RuleEdges`` (each boundary, and a microsecond
/// after), drawn from the columns instead of one user's facts; the differential
/// test holds the two to the same instants.
struct AudienceEdges {
    let audience: TenantAudience
    let context: EvaluationContext

    /// Microseconds per second.
    private static let second: Int64 = 1_000_000

    /// The earliest edge per user, for the users of the columns (not the overlay's).
    func next(_ rule: Rule) -> [UInt32: Date] {
        guard RuleEdges.dependsOnTime(rule) else { return [:] }
        var earliest = [Int64](repeating: .max, count: audience.users.capacity)
        var touched = MemberBitmap(capacity: audience.users.capacity)
        let now = AudienceTime.microseconds(context.now)
        func offer(_ user: UInt32, _ micros: Int64) {
            // Compared as the single-user evaluator will (a `Date`), so a boundary that rounds onto `now` is not lost.
            guard micros > now || AudienceTime.date(micros) > context.now, Int(user) < earliest.count else { return }
            if micros < earliest[Int(user)] {
                earliest[Int(user)] = micros
                touched.insert(user)
            }
        }
        func offerEdge(_ user: UInt32, _ micros: Int64) {
            offer(user, micros)
            offer(user, micros + 1)
        }
        collect(rule, offerEdge)
        var result: [UInt32: Date] = [:]
        let answered = audience.users.live.subtracting(audience.overlay.touched)
        for user in touched where answered.contains(user) { result[user] = AudienceTime.date(earliest[Int(user)]) }
        return result
    }

    private func collect(_ rule: Rule, _ offer: (UInt32, Int64) -> Void) {
        switch rule {
        case .all(let children), .any(let children):
            for child in children { collect(child, offer) }
        case .not(let child):
            collect(child, offer)
        case .behavior(let condition):
            guard RuleEdges.dependsOnTime(rule), let columns = audience.events[condition.event] else { return }
            let windows = [condition.window, measured(condition.measure)].compactMap { $0 }
            for window in windows { self.window(window, users: columns.users, times: columns.times, offer) }
            for filter in condition.filters where RuleEdges.dependsOnTime(filter.test) {
                guard let values = columns.properties[filter.property], values.type == .timestamp else { continue }
                for row in 0..<columns.count where values.present.contains(UInt32(row)) {
                    test(filter.test, values.times[row], user: columns.users[row], offer)
                }
            }
        case .attribute(let condition):
            guard RuleEdges.dependsOnTime(condition.test), let column = audience.profiles.attributes[condition.attribute], column.type == .timestamp
            else { return }
            for user in column.present { test(condition.test, column.times[Int(user)], user: user, offer) }
        case .response(let condition):
            guard let responseWindow = condition.window, RuleEdges.dependsOnTime(responseWindow) else { return }
            for (key, columns) in audience.responses.entries where key.kind == condition.kind {
                window(responseWindow, users: columns.users, times: columns.times, offer)
            }
        case .location(let condition):
            guard let seen = condition.seen, RuleEdges.dependsOnTime(seen) else { return }
            let locations = audience.profiles.locations
            let users = Array(locations.known)
            window(seen, users: users, times: users.map { locations.times[Int($0)] }, offer)
        case .tag, .segment:
            break
        }
    }

    private func measured(_ measure: BehaviorMeasure) -> TimeWindow? {
        switch measure {
        case .first(let window), .last(let window): window
        case .count, .aggregate: nil
        }
    }

    /// Edges of `window` for rows of (user, time) — in any order.
    private func window(_ window: TimeWindow, users: [UInt32], times: [Int64], _ offer: (UInt32, Int64) -> Void) {
        switch window {
        case .last(let duration):
            let length = duration.seconds * Self.second
            // Only rows still inside (or at) the window can leave it later.
            let from = AudienceTime.microseconds(context.now) - length - 1
            for row in times.indices where times[row] >= from { offer(users[row], times[row] + length) }
        case .calendar(let period, let source):
            let edges = RuleEdges(context: context)
            let tenantTurn = edges.periodTurn(period, in: context.tenantTimeZone)
            let tenant = (AudienceTime.microseconds(tenantTurn.previousStart), AudienceTime.microseconds(tenantTurn.boundary))
            var perZone: [(start: Int64, boundary: Int64)]?
            let zones = source == .user ? audience.profiles.attributes[RuleSemantics.timeZoneAttribute] : nil
            if let zones, zones.type == .string {
                perZone = zones.dictionary.strings.map { name in
                    guard let zone = TimeZone(identifier: name) else { return tenant }
                    let turn = edges.periodTurn(period, in: zone)
                    return (AudienceTime.microseconds(turn.previousStart), AudienceTime.microseconds(turn.boundary))
                }
            }
            for row in times.indices {
                let user = users[row]
                var turn = tenant
                if let zones, let perZone, Int(user) < zones.count, zones.present.contains(user) { turn = perZone[Int(zones.codes[Int(user)])] }
                if times[row] >= turn.0 - 1 { offer(user, turn.1) }
            }
        case .since, .before, .between:
            break
        }
    }

    private func test(_ test: ValueTest, _ time: Int64, user: UInt32, _ offer: (UInt32, Int64) -> Void) {
        switch test {
        case .moreThanAgo(let duration):
            offer(user, time + duration.seconds * Self.second)
        case .lessThanAgo(let duration):
            offer(user, time)
            offer(user, time + duration.seconds * Self.second)
        default:
            break
        }
    }
}
