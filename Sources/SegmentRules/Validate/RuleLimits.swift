/// Size limits of a rule, so no rule can make evaluation unbounded.
public struct RuleLimits: Sendable {
    /// Nesting of groups and `not`s.
    public var maxDepth = 32
    /// Nodes in the tree.
    public var maxNodes = 500
    /// Values in one `in [...]` list.
    public var maxListItems = 1000
    /// Characters in one string literal.
    public var maxStringLength = 4096
    /// The longest relative duration: ten years.
    public var maxDurationSeconds: Int64 = 10 * 366 * 86_400

    public init() {}
}
