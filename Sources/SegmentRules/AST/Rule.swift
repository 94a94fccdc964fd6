import Foundation

/// A segment rule: a boolean tree of conditions over a tenant's data.
///
/// This is the AST both rule forms share: the protobuf `segmentd.v1.Rule` maps
/// to it one to one, and the text language parses to and prints from it.
public indirect enum Rule: Hashable, Sendable, Codable {
    /// True when every child is true (an empty group is true).
    case all([Rule])
    /// True when any child is true (an empty group is false).
    case any([Rule])
    /// True when the child is false.
    case not(Rule)
    /// What users did.
    case behavior(BehaviorCondition)
    /// A profile attribute.
    case attribute(AttributeCondition)
    /// Responses to campaigns.
    case response(ResponseCondition)
    /// A static tag.
    case tag(TagCondition)
    /// Where the user was last seen.
    case location(LocationCondition)
    /// Membership of another segment.
    case segment(SegmentCondition)

    /// Depth of the tree (a leaf is 1).
    public var depth: Int {
        switch self {
        case .all(let children), .any(let children): return 1 + (children.map(\.depth).max() ?? 0)
        case .not(let child): return 1 + child.depth
        default: return 1
        }
    }

    /// Number of nodes in the tree.
    public var nodeCount: Int {
        switch self {
        case .all(let children), .any(let children): return 1 + children.reduce(0) { $0 + $1.nodeCount }
        case .not(let child): return 1 + child.nodeCount
        default: return 1
        }
    }
}

/// Units of relative time.
public enum TimeUnit: String, Hashable, Sendable, Codable, CaseIterable {
    case minutes = "m"
    case hours = "h"
    case days = "d"
    case weeks = "w"

    /// Seconds in one unit.
    public var seconds: Int64 {
        switch self {
        case .minutes: return 60
        case .hours: return 3600
        case .days: return 86_400
        case .weeks: return 7 * 86_400
        }
    }
}

/// A duration such as 24 hours.
public struct RelativeTime: Hashable, Sendable, Codable {
    public var amount: Int64
    public var unit: TimeUnit
    public init(_ amount: Int64, _ unit: TimeUnit) {
        self.amount = amount
        self.unit = unit
    }
    /// The duration in seconds.
    public var seconds: Int64 { amount * unit.seconds }
}

/// Calendar periods relative to evaluation time.
public enum CalendarPeriod: String, Hashable, Sendable, Codable, CaseIterable {
    case today, yesterday
    case thisWeek = "this week"
    case lastWeek = "last week"
    case thisMonth = "this month"
    case lastMonth = "last month"
}

/// Whose midnight counts for calendar windows.
public enum TimeZoneSource: Hashable, Sendable, Codable {
    /// The tenant's time zone.
    case tenant
    /// The user's `time_zone` attribute (the tenant's when missing).
    case user
}

/// When something happened.
public enum TimeWindow: Hashable, Sendable, Codable {
    /// In the last N units before evaluation time.
    case last(RelativeTime)
    /// At or after a time.
    case since(Date)
    /// Before a time.
    case before(Date)
    /// In [start, end).
    case between(Date, Date)
    /// A calendar period.
    case calendar(CalendarPeriod, TimeZoneSource)
}

/// Comparison operators for numbers and counts.
public enum Comparison: Hashable, Sendable, Codable {
    case equal(Double)
    case notEqual(Double)
    case less(Double)
    case lessOrEqual(Double)
    case greater(Double)
    case greaterOrEqual(Double)
    /// Both bounds inclusive.
    case between(Double, Double)

    /// Whether `value` satisfies the comparison.
    public func holds(_ value: Double) -> Bool {
        switch self {
        case .equal(let bound): return value == bound
        case .notEqual(let bound): return value != bound
        case .less(let bound): return value < bound
        case .lessOrEqual(let bound): return value <= bound
        case .greater(let bound): return value > bound
        case .greaterOrEqual(let bound): return value >= bound
        case .between(let low, let high): return value >= low && value <= high
        }
    }
}

/// A literal in a rule.
public enum Literal: Hashable, Sendable, Codable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case time(Date)
}

/// A test of one attribute or property value.
public enum ValueTest: Hashable, Sendable, Codable {
    case equals(Literal)
    case notEquals(Literal)
    case isIn([Literal])
    case notIn([Literal])
    /// Substring of a string, or member of a list.
    case contains(Literal)
    case startsWith(String)
    case endsWith(String)
    case exists
    case notSet
    /// Ordering of a number or a time (`.time` literals compare times).
    case less(Literal)
    case lessOrEqual(Literal)
    case greater(Literal)
    case greaterOrEqual(Literal)
    /// Both bounds inclusive; both of the same type.
    case between(Literal, Literal)
    /// A list containing any of the values.
    case containsAny([String])
    /// A list containing all of the values.
    case containsAll([String])
    /// A time more than the duration ago.
    case moreThanAgo(RelativeTime)
    /// A time less than the duration ago (and not in the future).
    case lessThanAgo(RelativeTime)
}

/// `where amount > 100`.
public struct PropertyFilter: Hashable, Sendable, Codable {
    public var property: String
    public var test: ValueTest
    public init(property: String, test: ValueTest) {
        self.property = property
        self.test = test
    }
}

/// Aggregate functions over a numeric property.
public enum AggregateFunction: String, Hashable, Sendable, Codable, CaseIterable {
    case sum, avg, min, max
}

/// What a behavior condition measures about the matching events.
public enum BehaviorMeasure: Hashable, Sendable, Codable {
    /// How many; `.greaterOrEqual(1)` is "did".
    case count(Comparison)
    /// An aggregate of a numeric property.
    case aggregate(AggregateFunction, property: String, Comparison)
    /// When the first matching event happened.
    case first(TimeWindow)
    /// When the last matching event happened.
    case last(TimeWindow)
}

/// `did add_to_cart in last 24h`, `did purchase at least 3 times in last 30d where amount > 100`.
public struct BehaviorCondition: Hashable, Sendable, Codable {
    public var event: String
    /// True for "did not".
    public var negated: Bool
    public var window: TimeWindow?
    public var filters: [PropertyFilter]
    public var measure: BehaviorMeasure

    public init(
        event: String, negated: Bool = false, window: TimeWindow? = nil, filters: [PropertyFilter] = [],
        measure: BehaviorMeasure = .count(.greaterOrEqual(1))
    ) {
        self.event = event
        self.negated = negated
        self.window = window
        self.filters = filters
        self.measure = measure
    }
}

/// `profile.tier in ["gold", "platinum"]`.
public struct AttributeCondition: Hashable, Sendable, Codable {
    public var attribute: String
    public var test: ValueTest
    public init(attribute: String, test: ValueTest) {
        self.attribute = attribute
        self.test = test
    }
}

/// Campaign response kinds.
public enum ResponseKind: String, Hashable, Sendable, Codable, CaseIterable {
    case received, opened, clicked, converted
}

/// Which campaign.
public enum CampaignSelector: Hashable, Sendable, Codable {
    case campaign(String)
    /// The tenant's campaign with the latest first send.
    case last
    case any
}

/// `clicked last campaign`, `not opened campaign spring_sale in last 7d`.
public struct ResponseCondition: Hashable, Sendable, Codable {
    public var kind: ResponseKind
    public var negated: Bool
    public var campaign: CampaignSelector
    public var window: TimeWindow?
    public init(kind: ResponseKind, negated: Bool = false, campaign: CampaignSelector = .any, window: TimeWindow? = nil) {
        self.kind = kind
        self.negated = negated
        self.campaign = campaign
        self.window = window
    }
}

/// `has tag vip`.
public struct TagCondition: Hashable, Sendable, Codable {
    public var tag: String
    public var negated: Bool
    public init(tag: String, negated: Bool = false) {
        self.tag = tag
        self.negated = negated
    }
}

/// Where the user's last known location is.
public enum Place: Hashable, Sendable, Codable {
    /// Any known location (with `seen`: "last location seen in the last 7 days").
    case anywhere
    /// Within a radius (metres) of a point.
    case within(latitude: Double, longitude: Double, meters: Double)
    /// In a city (case-insensitive).
    case city(String)
    /// In a country (ISO 3166-1 alpha-2).
    case country(String)
}

/// `within 10km of (41.01, 28.97) seen in last 7d`.
public struct LocationCondition: Hashable, Sendable, Codable {
    public var place: Place
    public var seen: TimeWindow?
    public init(place: Place, seen: TimeWindow? = nil) {
        self.place = place
        self.seen = seen
    }
}

/// `in segment high_value_buyers_30d`.
public struct SegmentCondition: Hashable, Sendable, Codable {
    public var segment: String
    public var negated: Bool
    public init(segment: String, negated: Bool = false) {
        self.segment = segment
        self.negated = negated
    }
}
