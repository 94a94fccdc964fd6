import Foundation

/// A bound parameter of compiled SQL. Every value of a rule travels as one of
/// these, never inside the SQL text.
public enum SQLParameter: Equatable, Sendable {
    case text(String)
    case float8(Double)
    case bool(Bool)
    case timestamptz(Date)
    case textArray([String])
    case float8Array([Double])
    case boolArray([Bool])
    case timestamptzArray([Date])
}

/// SQL with numbered placeholders (`$1`…) and their values.
public struct CompiledQuery: Equatable, Sendable {
    public var sql: String
    public var parameters: [SQLParameter]
}
