/// What an inspection breaks members down by: the most common values of an
/// attribute, or ranges for a number attribute.
public struct BreakdownRequest: Sendable {
    public var attribute: String
    /// Ranges (the attribute is a number) instead of values.
    public var byRanges: Bool
    /// Most common values shown; the rest are one "other" row.
    public var limit: Int
    /// About how many ranges, for a number attribute.
    public var buckets: Int

    public init(attribute: String, byRanges: Bool, limit: Int, buckets: Int) {
        self.attribute = attribute
        self.byRanges = byRanges
        self.limit = limit
        self.buckets = buckets
    }
}
