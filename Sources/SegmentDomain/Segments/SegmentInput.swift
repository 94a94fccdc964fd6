import SegmentRules

/// The definition fields of a create or update request, as sent: each kind's
/// settings are optional here, and the segment commands check that a segment
/// has exactly the settings of its kind.
public struct SegmentInput: Sendable {
    public var displayName: String
    public var description: String
    public var rule: RuleSource?
    public var connector: ConnectorSettings?
    /// A PULL connector's `Authorization` header; nil keeps the stored one.
    public var pullAuthHeader: String?
    public var predictive: PredictiveSettings?
    public var schedule: ScheduleRequest?
    /// Keep membership true continuously (rule-based segments only).
    public var realTime: Bool

    public init(
        displayName: String = "", description: String = "", rule: RuleSource? = nil, connector: ConnectorSettings? = nil,
        pullAuthHeader: String? = nil, predictive: PredictiveSettings? = nil, schedule: ScheduleRequest? = nil, realTime: Bool = false
    ) {
        self.displayName = displayName
        self.description = description
        self.rule = rule
        self.connector = connector
        self.pullAuthHeader = pullAuthHeader
        self.predictive = predictive
        self.schedule = schedule
        self.realTime = realTime
    }
}

/// A segment that `validate_only` checked and did not save.
public struct SegmentDraft: Sendable {
    public var name: String
    public var kind: SegmentKind
    public var definition: SegmentDefinition
    public var pullAuthHeaderSet: Bool
    /// The rule's warnings, as `create` would return them.
    public var warnings: [RuleDiagnostic]

    public init(name: String, kind: SegmentKind, definition: SegmentDefinition, pullAuthHeaderSet: Bool, warnings: [RuleDiagnostic] = []) {
        self.name = name
        self.kind = kind
        self.definition = definition
        self.pullAuthHeaderSet = pullAuthHeaderSet
        self.warnings = warnings
    }
}
