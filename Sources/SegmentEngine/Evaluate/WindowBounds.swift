import Foundation
import SegmentRules
import SegmentStore

/// A rule's time window as microsecond bounds over the engine's sorted time
/// columns: one pair for everybody, or, for a calendar window in the user's
/// time zone, a pair per distinct zone (looked up by the user's `time_zone` code).
///
/// Bounds are exact: `start` is the first microsecond whose `Date` is at or after
/// the window's start, so a row is inside exactly when the single-user
/// evaluator's `Date` comparison says so.
struct WindowBounds {
    /// The loosest bounds over every zone: the range of rows to scan.
    let scanStart: Int64?
    let scanEnd: Int64?
    /// Per zone (by the time zone column's code) when the window depends on the user.
    private var zoneBounds: [(start: Int64, end: Int64)]?
    private var tenantBounds: (start: Int64, end: Int64)?
    private var zones: PropertyColumn?

    init(_ window: TimeWindow, context: EvaluationContext, profiles: ProfileColumns) {
        (zones, zoneBounds, tenantBounds) = (nil, nil, nil)
        switch window {
        case .last(let duration):
            (scanStart, scanEnd) = (Self.firstMicrosecond(atOrAfter: context.now.addingTimeInterval(-Double(duration.seconds))), nil)
        case .since(let start):
            (scanStart, scanEnd) = (Self.firstMicrosecond(atOrAfter: start), nil)
        case .before(let end):
            (scanStart, scanEnd) = (nil, Self.firstMicrosecond(atOrAfter: end))
        case .between(let start, let end):
            (scanStart, scanEnd) = (Self.firstMicrosecond(atOrAfter: start), Self.firstMicrosecond(atOrAfter: end))
        case .calendar(let period, let source):
            let tenant = Self.bounds(context.interval(period, in: context.tenantTimeZone))
            guard source == .user, let column = profiles.attributes[RuleSemantics.timeZoneAttribute], column.type == .string else {
                (scanStart, scanEnd) = (tenant.start, tenant.end)
                return
            }
            // Each distinct zone name once; a name that is not a zone falls back to the tenant's, as in the evaluator.
            let perZone = column.dictionary.strings.map { name in
                TimeZone(identifier: name).map { Self.bounds(context.interval(period, in: $0)) } ?? tenant
            }
            zones = column
            zoneBounds = perZone
            tenantBounds = tenant
            scanStart = perZone.reduce(tenant.start) { min($0, $1.start) }
            scanEnd = perZone.reduce(tenant.end) { max($0, $1.end) }
        }
    }

    /// Whether `time` (microseconds) of `user` is inside the window.
    func contains(_ time: Int64, user: UInt32) -> Bool {
        guard let zoneBounds, let zones, let tenantBounds else {
            return (scanStart.map { time >= $0 } ?? true) && (scanEnd.map { time < $0 } ?? true)
        }
        let row = Int(user)
        let bounds = row < zones.count && zones.present.contains(user) ? zoneBounds[Int(zones.codes[row])] : tenantBounds
        return time >= bounds.start && time < bounds.end
    }

    private static func bounds(_ interval: (start: Date, end: Date)) -> (start: Int64, end: Int64) {
        (firstMicrosecond(atOrAfter: interval.start), firstMicrosecond(atOrAfter: interval.end))
    }

    /// The first microsecond whose `Date` is at or after `date`.
    static func firstMicrosecond(atOrAfter date: Date) -> Int64 {
        var micros = AudienceTime.microseconds(date)
        while AudienceTime.date(micros) < date { micros += 1 }
        while AudienceTime.date(micros - 1) >= date { micros -= 1 }
        return micros
    }
}
