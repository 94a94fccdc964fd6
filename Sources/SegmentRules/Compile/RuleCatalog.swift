/// Types of values as the tenant's catalog records them (first sight sets the type).
public enum RuleValueType: String, Sendable, CaseIterable {
    case string, number, bool, timestamp
    case stringList = "string_list"
}

/// What the tenant's data is known to contain: the compiler needs the types
/// to read JSON values; validation uses the names for warnings.
public struct RuleCatalog: Sendable {
    public var attributes: [String: RuleValueType]
    /// Event name → property → type.
    public var properties: [String: [String: RuleValueType]]
    public var events: Set<String>
    public var tags: Set<String>
    public var campaigns: Set<String>
    /// Segment ids of the tenant, when known (references to others are errors).
    public var segments: Set<String>?

    public init(
        attributes: [String: RuleValueType] = [:], properties: [String: [String: RuleValueType]] = [:],
        events: Set<String> = [], tags: Set<String> = [], campaigns: Set<String> = [], segments: Set<String>? = nil
    ) {
        self.attributes = attributes
        self.properties = properties
        self.events = events
        self.tags = tags
        self.campaigns = campaigns
        self.segments = segments
    }
}
