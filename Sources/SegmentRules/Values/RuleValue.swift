import Foundation

/// A typed value of a profile attribute or event property: what ingest accepts
/// and stores, and what rules compare against. One type for both, so a value
/// never changes shape between the two.
public enum RuleValue: Hashable, Sendable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case time(Date)
    case list([String])

    /// The catalog type of this value.
    public var type: ValueType {
        switch self {
        case .string: .string
        case .number: .number
        case .bool: .bool
        case .time: .timestamp
        case .list: .stringList
        }
    }
}
