import Foundation

/// Which per-user features a predictive model reads, fixed when it is trained
/// so scoring and explanations compute exactly the same columns.
///
/// Per event type: counts over 7, 30 and 90 days (log1p), days since the last
/// one (capped at 365), and the 90-day sum of one numeric property (the
/// monetary value, log1p). Campaign engagement over 30 days, active days in
/// the last 30, days since first seen, and the tenant's numeric, boolean and
/// time profile attributes (time as days ago). Missing values are 0 (days
/// since: 365).
public struct FeatureSpec: Sendable, Equatable, Codable {
    public var events: [String]
    /// Event → the numeric property summed as its monetary value.
    public var monetary: [String: String]
    public var numberAttributes: [String]
    public var boolAttributes: [String]
    public var timeAttributes: [String]

    /// Most event types a model reads (by volume), besides the goal event.
    public static let maxEvents = 12
    /// Most profile attributes of each type.
    public static let maxAttributes = 10

    public init(
        events: [String], monetary: [String: String] = [:], numberAttributes: [String] = [], boolAttributes: [String] = [],
        timeAttributes: [String] = []
    ) {
        self.events = events
        self.monetary = monetary
        self.numberAttributes = numberAttributes
        self.boolAttributes = boolAttributes
        self.timeAttributes = timeAttributes
    }

    enum CodingKeys: String, CodingKey {
        case events, monetary
        case numberAttributes = "number_attributes"
        case boolAttributes = "bool_attributes"
        case timeAttributes = "time_attributes"
    }

    /// Feature names in column order (`purchase.log_count_30d`, `profile.age`); `log_` marks ln(1 + x).
    public var names: [String] {
        var names: [String] = []
        for event in events {
            names += ["\(event).log_count_7d", "\(event).log_count_30d", "\(event).log_count_90d", "\(event).days_since_last"]
            if let property = monetary[event] { names.append("\(event).log_\(property)_sum_90d") }
        }
        names += ["campaigns.log_received_30d", "campaigns.log_opened_30d", "campaigns.log_clicked_30d", "campaigns.log_converted_30d"]
        names += ["activity.active_days_30d", "activity.days_since_first"]
        names += numberAttributes.map { "profile.\($0)" }
        names += boolAttributes.map { "profile.\($0)" }
        names += timeAttributes.map { "profile.\($0).days_ago" }
        return names
    }
}
