import SegmentRules

/// One column of a batch of rows read for the audience engine: the values of
/// one event property or profile attribute, typed by the catalog, `nil` where
/// the row does not have it. Transient (a batch is a few thousand rows): the
/// engine copies it into its own compact columns.
public enum AudienceValues: Sendable, Equatable {
    case strings([String?])
    case numbers([Double?])
    case bools([Bool?])
    /// Microseconds since 1970 (``AudienceTime``).
    case times([Int64?])
    case lists([[String]?])

    /// An empty column for values of `type`.
    public init(type: ValueType, capacity: Int) {
        switch type {
        case .string: self = .strings(Self.reserved(capacity))
        case .number: self = .numbers(Self.reserved(capacity))
        case .bool: self = .bools(Self.reserved(capacity))
        case .timestamp: self = .times(Self.reserved(capacity))
        case .stringList: self = .lists(Self.reserved(capacity))
        }
    }

    private static func reserved<T>(_ capacity: Int) -> [T] {
        var values: [T] = []
        values.reserveCapacity(capacity)
        return values
    }

    /// The catalog type of the values.
    public var type: ValueType {
        switch self {
        case .strings: .string
        case .numbers: .number
        case .bools: .bool
        case .times: .timestamp
        case .lists: .stringList
        }
    }

    /// How many rows.
    public var count: Int {
        switch self {
        case .strings(let values): values.count
        case .numbers(let values): values.count
        case .bools(let values): values.count
        case .times(let values): values.count
        case .lists(let values): values.count
        }
    }
}
