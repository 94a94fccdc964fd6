import Foundation

/// What a rule is evaluated against besides the user: the evaluation time,
/// the tenant's time zone and the tenant's last campaign. The SQL compiler and
/// the evaluator take the same context, so they agree on every boundary.
public struct EvaluationContext: Sendable {
    public var now: Date
    public var tenantTimeZone: TimeZone
    /// The campaign with the latest first send; nil when the tenant has none.
    public var lastCampaign: String?

    public init(now: Date, tenantTimeZone: TimeZone = TimeZone(identifier: "UTC")!, lastCampaign: String? = nil) {
        self.now = now
        self.tenantTimeZone = tenantTimeZone
        self.lastCampaign = lastCampaign
    }

    /// The time zone calendar windows use for a user.
    public func timeZone(_ source: TimeZoneSource, attributes: [String: RuleValue]) -> TimeZone {
        guard source == .user, case .string(let name)? = attributes[RuleSemantics.timeZoneAttribute],
            let zone = TimeZone(identifier: name)
        else { return tenantTimeZone }
        return zone
    }

    /// [start, end) of a calendar period around `now` in `zone`.
    public func interval(_ period: CalendarPeriod, in zone: TimeZone) -> (start: Date, end: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        calendar.firstWeekday = 2  // ISO weeks start on Monday, like PostgreSQL's date_trunc('week').
        calendar.minimumDaysInFirstWeek = 4
        let component: Calendar.Component
        switch period {
        case .today, .yesterday: component = .day
        case .thisWeek, .lastWeek: component = .weekOfYear
        case .thisMonth, .lastMonth: component = .month
        }
        let current = calendar.dateInterval(of: component, for: now)!
        switch period {
        case .today, .thisWeek, .thisMonth:
            return (current.start, current.end)
        case .yesterday, .lastWeek, .lastMonth:
            let previous = calendar.dateInterval(of: component, for: current.start.addingTimeInterval(-1))!
            return (previous.start, current.start)
        }
    }

    /// Whether `time` falls in `window` for a user with `attributes`.
    public func contains(_ window: TimeWindow, _ time: Date, attributes: [String: RuleValue]) -> Bool {
        resolve(window, attributes: attributes).contains(time)
    }

    /// The instants `window` admits for a user with `attributes`: resolved once per
    /// condition and user, so a calendar period is not worked out again for every event.
    public func resolve(_ window: TimeWindow, attributes: [String: RuleValue]) -> ResolvedWindow {
        switch window {
        case .last(let duration): return ResolvedWindow(start: now.addingTimeInterval(-Double(duration.seconds)), end: nil)
        case .since(let start): return ResolvedWindow(start: start, end: nil)
        case .before(let end): return ResolvedWindow(start: nil, end: end)
        case .between(let start, let end): return ResolvedWindow(start: start, end: end)
        case .calendar(let period, let source):
            let (start, end) = interval(period, in: timeZone(source, attributes: attributes))
            return ResolvedWindow(start: start, end: end)
        }
    }
}

/// A window as instants: at or after `start` and strictly before `end` (nil: unbounded).
public struct ResolvedWindow: Sendable, Equatable {
    public var start: Date?
    public var end: Date?

    public func contains(_ time: Date) -> Bool {
        (start.map { time >= $0 } ?? true) && (end.map { time < $0 } ?? true)
    }
}

/// Meanings both evaluators share, written down once.
public enum RuleSemantics {
    /// The profile attribute holding the user's IANA time zone.
    public static let timeZoneAttribute = "time_zone"
    /// Attributes `in city` and `in country` compare with (ASCII case-insensitively).
    public static let cityAttribute = "city"
    public static let countryAttribute = "country"
    /// Mean Earth radius in metres (haversine distance).
    public static let earthRadius = 6_371_008.8

    /// Great-circle distance in metres (haversine), from the user's point to the
    /// rule's. Written operation for operation like the SQL compiler's, so both
    /// round the same way and agree at the edge of the circle.
    public static func distance(from lat1: Double, _ lon1: Double, to lat2: Double, _ lon2: Double) -> Double {
        let k = Double.pi / 180
        let dp = (lat2 - lat1) * k / 2
        let dl = (lon2 - lon1) * k / 2
        let a = sin(dp) * sin(dp) + cos(lat1 * k) * cos(lat2 * k) * sin(dl) * sin(dl)
        return 2 * earthRadius * asin(min(1, a.squareRoot()))
    }

    /// ASCII-only lower case (PostgreSQL's `lower` depends on the locale; this does not).
    public static func asciiLowercased(_ text: String) -> [UInt8] {
        text.utf8.map { (65...90).contains($0) ? $0 + 32 : $0 }
    }

    /// Sum of no values is 0; average, minimum and maximum of no values do not exist.
    public static func aggregate(_ function: AggregateFunction, _ values: [Double]) -> Double? {
        switch function {
        case .sum: return values.reduce(0, +)
        case .avg: return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
        case .min: return values.min()
        case .max: return values.max()
        }
    }
}
