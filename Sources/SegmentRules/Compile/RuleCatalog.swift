/// What the tenant's data is known to contain: the compiler needs the types
/// to read JSON values; validation uses the names for warnings.
public struct RuleCatalog: Sendable {
    public var attributes: [String: ValueType]
    /// Event name → property → type.
    public var properties: [String: [String: ValueType]]
    public var events: Set<String>
    public var tags: Set<String>
    public var campaigns: Set<String>
    /// Segment ids of the tenant (not deleted), when known: references to others are errors.
    public var segments: Set<String>?
    /// Those of `segments` that have members now: a reference to an empty one is a warning.
    public var segmentsWithMembers: Set<String>

    public init(
        attributes: [String: ValueType] = [:], properties: [String: [String: ValueType]] = [:],
        events: Set<String> = [], tags: Set<String> = [], campaigns: Set<String> = [], segments: Set<String>? = nil,
        segmentsWithMembers: Set<String>? = nil
    ) {
        self.attributes = attributes
        self.properties = properties
        self.events = events
        self.tags = tags
        self.campaigns = campaigns
        self.segments = segments
        self.segmentsWithMembers = segmentsWithMembers ?? segments ?? []
    }
}
