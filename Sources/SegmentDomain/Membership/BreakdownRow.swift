/// One row of an inspection's breakdown by an attribute.
public struct BreakdownRow: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Members with this value (a list counts once per item).
        case value(String)
        /// A number attribute's range: `low` included, `high` excluded except in the last range.
        case range(low: Double, high: Double, label: String)
        /// Members without the attribute (or, broken down by ranges, with a value that is not a number).
        case notSet
        /// The values past the most common ones, counted together.
        case other
    }

    public var kind: Kind
    public var count: Int64

    public init(_ kind: Kind, count: Int64) {
        self.kind = kind
        self.count = count
    }

    /// How the row reads in a table.
    public var label: String {
        switch kind {
        case .value(let value): value
        case .range(_, _, let label): label
        case .notSet: "(not set)"
        case .other: "(other)"
        }
    }
}
