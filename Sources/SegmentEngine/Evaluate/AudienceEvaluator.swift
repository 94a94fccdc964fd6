import Foundation
import SegmentRules
import SegmentStore

/// Evaluates rules over a tenant's in-memory audience: each condition becomes a
/// bitmap of user indexes and `and`/`or`/`not` become bitmap operations against
/// the live users.
///
/// The meaning is `docs/rules.md` as the single-user ``RuleEvaluator`` states it
/// (users without data, `!=` needing a value, sums of nothing being 0, calendar
/// windows in the user's zone); the differential tests hold the two, and the SQL
/// compiler, to identical member sets.
public struct AudienceEvaluator: Sendable {
    public let audience: TenantAudience
    public let context: EvaluationContext
    /// Members of the segments rules may reference, by segment id (missing: no members).
    public internal(set) var segments: [String: MemberBitmap]
    /// Whether other refreshes evaluate at the same instant (queued together): then the
    /// conditions that depend on the instant are kept for them too (``ConditionMemo``).
    public let sharesInstant: Bool

    public init(audience: TenantAudience, context: EvaluationContext, segments: [String: MemberBitmap] = [:], sharesInstant: Bool = false) {
        self.audience = audience
        self.context = context
        self.segments = segments
        self.sharesInstant = sharesInstant
    }

    private var live: MemberBitmap { audience.users.live }

    /// The users `rule` matches.
    public func members(_ rule: Rule) -> MemberBitmap {
        withOverlay(rule, columns: columnMembers(rule))
    }

    /// `rule`'s members as the columns say (right for every user the overlay does not hold);
    /// a condition that only the data decides is evaluated once per state, and one that
    /// also depends on the instant once per batch of refreshes sharing it (``ConditionMemo``).
    func columnMembers(_ rule: Rule) -> MemberBitmap {
        if rule.isFixedOverColumns { return audience.conditions.members(rule) { members(rule, child: columnMembers) } }
        if sharesInstant, rule.isFixedAtInstant {
            let instant = ConditionMemo.Instant(now: context.now, zone: context.tenantTimeZone.identifier)
            return audience.conditions.members(rule, at: instant) { members(rule, child: columnMembers) }
        }
        return members(rule, child: columnMembers)
    }

    /// `columns` for the users not changed since the columns were built, and the
    /// single-user evaluator's answer for those the overlay holds (changed, added,
    /// deleted): exact, since a user's membership depends only on their own data
    /// and the referenced segments' members.
    func withOverlay(_ rule: Rule, columns: MemberBitmap) -> MemberBitmap {
        let overlay = audience.overlay
        guard overlay.count > 0 else { return columns }
        var result = columns.subtracting(overlay.touched)
        let evaluator = RuleEvaluator(context: context)
        let referenced = SegmentReferences.referenced(by: rule)
        for (user, facts) in overlay.facts {
            var facts = facts
            if !referenced.isEmpty { facts.segments = Set(referenced.filter { segments[$0]?.contains(user) == true }) }
            if evaluator.matches(rule, facts) { result.insert(user) }
        }
        return result
    }

    /// `rule`'s members, its children's through `child` (so a batch can reuse them).
    func members(_ rule: Rule, child members: (Rule) -> MemberBitmap) -> MemberBitmap {
        switch rule {
        case .all(let children):
            var result = live
            for child in children {
                if result.isEmpty { break }
                result.formIntersection(members(child))
            }
            return result
        case .any(let children):
            var result = MemberBitmap()
            for child in children { result.formUnion(members(child)) }
            return result
        case .not(let child):
            return members(child).complement(in: live)
        default:
            return leaf(rule)
        }
    }

    /// A condition's members.
    private func leaf(_ rule: Rule) -> MemberBitmap {
        switch rule {
        case .all, .any, .not:
            return columnMembers(rule)
        case .behavior(let condition):
            return polarity(behavior(condition), negated: condition.negated)
        case .attribute(let condition):
            return attribute(condition)
        case .response(let condition):
            return polarity(response(condition), negated: condition.negated)
        case .tag(let condition):
            return polarity(audience.tags[condition.tag].intersection(live), negated: condition.negated)
        case .location(let condition):
            return location(condition)
        case .segment(let condition):
            return polarity((segments[condition.segment] ?? MemberBitmap()).intersection(live), negated: condition.negated)
        }
    }

    /// `held`, or for a negated condition every other live user (users without data included).
    private func polarity(_ held: MemberBitmap, negated: Bool) -> MemberBitmap {
        negated ? held.complement(in: live) : held
    }

    private func bounds(_ window: TimeWindow) -> WindowBounds {
        WindowBounds(window, context: context, profiles: audience.profiles)
    }

    // MARK: Profiles

    private func attribute(_ condition: AttributeCondition) -> MemberBitmap {
        let matcher = ValueMatcher(column: audience.profiles.attributes[condition.attribute], test: condition.test, now: context.now)
        // Only users with a value can pass, unless the test is `is not set`.
        let candidates = matcher.absentMatches ? live : matcher.present.intersection(live)
        var result = MemberBitmap(capacity: audience.users.capacity)
        for user in candidates where matcher.matches(Int(user)) { result.insert(user) }
        return result
    }

    private func location(_ condition: LocationCondition) -> MemberBitmap {
        let locations = audience.profiles.locations
        let seen = condition.seen.map(bounds)
        func wasSeen(_ user: UInt32) -> Bool {
            guard let seen else { return true }
            return locations.known.contains(user) && seen.contains(locations.times[Int(user)], user: user)
        }
        var result = MemberBitmap(capacity: audience.users.capacity)
        switch condition.place {
        case .anywhere:
            for user in locations.known.intersection(live) where wasSeen(user) { result.insert(user) }
        case .within(let latitude, let longitude, let meters):
            for user in locations.known.intersection(live) where wasSeen(user) {
                let row = Int(user)
                let distance = RuleSemantics.distance(from: locations.latitudes[row], locations.longitudes[row], to: latitude, longitude)
                if distance <= meters { result.insert(user) }
            }
        case .city(let name), .country(let name):
            let attribute = if case .city = condition.place { RuleSemantics.cityAttribute } else { RuleSemantics.countryAttribute }
            guard let column = audience.profiles.attributes[attribute], column.type == .string else { return result }
            let wanted = RuleSemantics.asciiLowercased(name)
            let sameCodes = column.dictionary.strings.map { RuleSemantics.asciiLowercased($0) == wanted }
            for user in column.present.intersection(live) where sameCodes[Int(column.codes[Int(user)])] && wasSeen(user) {
                result.insert(user)
            }
        }
        return result
    }

    // MARK: Responses

    /// Users with at least one response of the kind to the selected campaign(s) in the window.
    private func response(_ condition: ResponseCondition) -> MemberBitmap {
        let entries: [ResponseColumns]
        switch condition.campaign {
        case .campaign(let id):
            entries = [audience.responses[id, condition.kind]]
        case .last:
            // Without a campaign nobody responded to "the last" one.
            guard let last = context.lastCampaign else { return MemberBitmap() }
            entries = [audience.responses[last, condition.kind]]
        case .any:
            entries = audience.responses.entries.filter { $0.key.kind == condition.kind }.map(\.value)
        }
        let window = condition.window.map(bounds)
        var result = MemberBitmap(capacity: audience.users.capacity)
        for columns in entries {
            for row in columns.rows(from: window?.scanStart, before: window?.scanEnd) {
                let user = columns.users[row]
                if window?.contains(columns.times[row], user: user) ?? true { result.insert(user) }
            }
        }
        return result.intersection(live)
    }

    // MARK: Behavior

    /// Users for whom the condition holds before `did not` is applied.
    private func behavior(_ condition: BehaviorCondition) -> MemberBitmap {
        let capacity = audience.users.capacity
        guard let columns = audience.events[condition.event] else {
            return unmatched(condition.measure)
        }
        let window = condition.window.map(bounds)
        let filters = condition.filters.map { ValueMatcher(column: columns.properties[$0.property], test: $0.test, now: context.now) }
        let rows = columns.rows(from: window?.scanStart, before: window?.scanEnd)
        func passes(_ row: Int) -> Bool {
            if let window, !window.contains(columns.times[row], user: columns.users[row]) { return false }
            return filters.allSatisfy { $0.matches(row) }
        }
        switch condition.measure {
        case .count(let comparison):
            var counts = [UInt32](repeating: 0, count: capacity)
            var touched = MemberBitmap(capacity: capacity)
            for row in rows where passes(row) {
                let user = columns.users[row]
                counts[Int(user)] += 1
                touched.insert(user)
            }
            var result = comparison.holds(0) ? live.subtracting(touched) : MemberBitmap(capacity: capacity)
            for user in touched where comparison.holds(Double(counts[Int(user)])) { result.insert(user) }
            return result
        case .aggregate(let function, let property, let comparison):
            var sums = [Double](repeating: 0, count: capacity)
            var counts = [UInt32](repeating: 0, count: capacity)
            var extremes = [Double](repeating: 0, count: capacity)
            var touched = MemberBitmap(capacity: capacity)
            if let values = columns.properties[property], values.type == .number {
                for row in rows where values.present.contains(UInt32(row)) && passes(row) {
                    let user = Int(columns.users[row])
                    let value = values.numbers[row]
                    if counts[user] == 0 {
                        extremes[user] = value
                    } else if function == .min ? value < extremes[user] : value > extremes[user] {
                        extremes[user] = value
                    }
                    sums[user] += value
                    counts[user] += 1
                    touched.insert(UInt32(user))
                }
            }
            // The sum of no values is 0; the others of no values do not exist (and never compare).
            var result = function == .sum && comparison.holds(0) ? live.subtracting(touched) : MemberBitmap(capacity: capacity)
            for user in touched {
                let row = Int(user)
                let value: Double
                switch function {
                case .sum: value = sums[row]
                case .avg: value = sums[row] / Double(counts[row])
                case .min, .max: value = extremes[row]
                }
                if comparison.holds(value) { result.insert(user) }
            }
            return result
        case .first(let measured), .last(let measured):
            let isFirst = if case .first = condition.measure { true } else { false }
            var times = [Int64](repeating: 0, count: capacity)
            var touched = MemberBitmap(capacity: capacity)
            for row in rows where passes(row) {
                let user = columns.users[row]
                let time = columns.times[row]
                // Rows are in time order: a user's first matching row is the earliest, the last the latest.
                if touched.insert(user) || !isFirst { times[Int(user)] = time }
            }
            let window = bounds(measured)
            var result = MemberBitmap(capacity: capacity)
            for user in touched where window.contains(times[Int(user)], user: user) { result.insert(user) }
            return result
        }
    }

    /// A behavior condition over an event type nobody has performed: only a count
    /// that holds at 0, or a sum that does, is true (for every live user).
    private func unmatched(_ measure: BehaviorMeasure) -> MemberBitmap {
        switch measure {
        case .count(let comparison): comparison.holds(0) ? live : MemberBitmap()
        case .aggregate(.sum, _, let comparison): comparison.holds(0) ? live : MemberBitmap()
        case .aggregate, .first, .last: MemberBitmap()
        }
    }
}
