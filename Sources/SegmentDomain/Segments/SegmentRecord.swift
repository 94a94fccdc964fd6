import Foundation
import SegmentRules

/// The kinds of segment.
public enum SegmentKind: String, Sendable, CaseIterable {
    case ruleBased = "rule_based"
    case connector, predictive
}

/// Whether schedules refresh a segment.
public enum SegmentState: String, Sendable, CaseIterable {
    case active, paused, archived
}

/// Ready-to-use curation of a segment.
public struct SegmentCuration: Sendable, Equatable {
    public var readyToUse: Bool
    public var category: String
    public var position: Int
    public var note: String
    public var curator: String
    public var pinnedAt: Date?

    package init(readyToUse: Bool, category: String, position: Int, note: String, curator: String, pinnedAt: Date?) {
        self.readyToUse = readyToUse
        self.category = category
        self.position = position
        self.note = note
        self.curator = curator
        self.pinnedAt = pinnedAt
    }
}

/// How the last refresh went.
public struct SegmentRefreshStatus: Sendable, Equatable {
    public var time: Date
    public var outcome: String
    public var error: String?
    public var durationMilliseconds: Int64?
    public var jobID: Int64?
    /// Connector segments: ids on the connector's side, and how many matched known users.
    public var connectorCount: Int64?
    public var matchedCount: Int64?

    package init(
        time: Date, outcome: String, error: String?, durationMilliseconds: Int64?, jobID: Int64?, connectorCount: Int64?, matchedCount: Int64?
    ) {
        self.time = time
        self.outcome = outcome
        self.error = error
        self.durationMilliseconds = durationMilliseconds
        self.jobID = jobID
        self.connectorCount = connectorCount
        self.matchedCount = matchedCount
    }
}

/// The definition fields a revision records.
public struct SegmentDefinition: Sendable, Equatable, Codable {
    public var displayName: String
    public var description: String
    /// Canonical rule text (rule-based segments).
    public var ruleText: String?
    /// The rule's AST and its restatement in words, saved with the text so reads never parse.
    /// Nil in revisions saved before they were kept.
    public var ruleAST: Rule?
    public var ruleDescription: String?
    public var schedule: SegmentSchedule
    /// Connector segments: where members come from.
    public var connector: ConnectorSettings?
    /// Predictive segments: what is predicted.
    public var predictive: PredictiveSettings?
    /// Rule-based segments only: membership is kept true continuously (each ingest
    /// batch re-evaluates the users it touched, window edges are followed to the
    /// instant), besides the refreshes. Like the schedule, not a change of what the
    /// members are computed from.
    public var realTime: Bool

    public init(
        displayName: String, description: String, ruleText: String?, ruleAST: Rule? = nil, ruleDescription: String? = nil,
        schedule: SegmentSchedule, connector: ConnectorSettings? = nil, predictive: PredictiveSettings? = nil, realTime: Bool = false
    ) {
        self.displayName = displayName
        self.description = description
        self.ruleText = ruleText
        self.ruleAST = ruleAST
        self.ruleDescription = ruleDescription
        self.schedule = schedule
        self.connector = connector
        self.predictive = predictive
        self.realTime = realTime
    }

    enum CodingKeys: String, CodingKey {
        case displayName = "display_name"
        case description
        case ruleText = "rule_text"
        case ruleAST = "rule_ast"
        case ruleDescription = "rule_description"
        case schedule, connector, predictive
        case realTime = "real_time"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        displayName = try container.decode(String.self, forKey: .displayName)
        description = try container.decode(String.self, forKey: .description)
        ruleText = try container.decodeIfPresent(String.self, forKey: .ruleText)
        ruleAST = try container.decodeIfPresent(Rule.self, forKey: .ruleAST)
        ruleDescription = try container.decodeIfPresent(String.self, forKey: .ruleDescription)
        schedule = try container.decode(SegmentSchedule.self, forKey: .schedule)
        connector = try container.decodeIfPresent(ConnectorSettings.self, forKey: .connector)
        predictive = try container.decodeIfPresent(PredictiveSettings.self, forKey: .predictive)
        // Revisions saved before real-time segments existed have no key.
        realTime = try container.decodeIfPresent(Bool.self, forKey: .realTime) ?? false
    }

    /// The kind settings as stored in `segments.config`.
    package var configJSON: String {
        if let connector { return KindConfig(connector: connector, predictive: nil).sortedJSON }
        if let predictive { return KindConfig(connector: nil, predictive: predictive).sortedJSON }
        return "{}"
    }

    package struct KindConfig: Codable {
        package var connector: ConnectorSettings?
        package var predictive: PredictiveSettings?
        package init(connector: ConnectorSettings?, predictive: PredictiveSettings?) {
            self.connector = connector
            self.predictive = predictive
        }
    }

    /// The kind settings as the audit log records them: a pull URL's query values redacted.
    package var redactedConfigJSON: String {
        guard var connector, let pull = connector.pull else { return configJSON }
        connector.pull?.url = pull.redactedURL
        return KindConfig(connector: connector, predictive: nil).sortedJSON
    }

    /// The rule's AST as stored beside its text.
    package var ruleASTJSON: String? {
        guard let ruleAST else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(ruleAST)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Field names (AIP style) that differ from `other`.
    package func changedFields(from other: SegmentDefinition) -> [String] {
        var fields: [String] = []
        if displayName != other.displayName { fields.append("display_name") }
        if description != other.description { fields.append("description") }
        if ruleText != other.ruleText { fields.append("rule") }
        if schedule != other.schedule { fields.append("schedule") }
        if realTime != other.realTime { fields.append("real_time") }
        if connector != other.connector { fields.append("connector") }
        if predictive != other.predictive { fields.append("predictive") }
        return fields
    }

    package var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }
}

/// A segment as stored.
public struct SegmentRecord: Sendable, Equatable {
    public let tenantID: TenantID
    public let segmentID: String
    public let kind: SegmentKind
    public let definition: SegmentDefinition
    public let references: [String]
    public let state: SegmentState
    public let curation: SegmentCuration
    public let size: Int64
    public let lastRefresh: SegmentRefreshStatus?
    public let nextRefreshAt: Date?
    public let revision: Int64
    public let etag: Int64
    public let creator: String
    public let createdAt: Date
    public let updatedAt: Date
    public let deletedAt: Date?
    public let purgeAt: Date?
    /// A PULL connector has a stored `Authorization` header (the header itself is never read back).
    public let pullAuthHeaderSet: Bool
    /// The revision the current membership was computed from; nil until the first refresh (sync, scoring) writes members.
    public let refreshedRevision: Int64?
    /// The last revision that changed what membership is computed from (see `SegmentFreshness`).
    public let definitionRevision: Int64

    /// `tenants/{tenant}/segments/{segment}`.
    public var name: String { "tenants/\(tenantID)/segments/\(segmentID)" }

    /// Whether the members follow the current definition.
    public var freshness: SegmentFreshness {
        SegmentFreshness(refreshedRevision: refreshedRevision, definitionRevision: definitionRevision)
    }

    /// When the schedule refreshes it next: nil for a manual schedule and for a paused,
    /// archived or deleted segment (which no schedule refreshes). A time already past
    /// means due now (the scheduler enqueues it on its next pass).
    public var scheduledRefreshAt: Date? {
        guard state == .active, deletedAt == nil, definition.schedule.cadence != .manual else { return nil }
        return nextRefreshAt
    }

    package var auditFields: AuditFields {
        var fields: AuditFields = [
            "display_name": .string(definition.displayName), "description": .string(definition.description),
            "schedule": definition.schedule.auditValue, "state": .string(state.rawValue), "revision": .number(Double(revision)),
        ]
        if let rule = definition.ruleText {
            fields["rule"] = .string(rule)
            fields["real_time"] = .bool(definition.realTime)
        }
        if definition.connector != nil || definition.predictive != nil { fields["config"] = .string(definition.redactedConfigJSON) }
        if curation.readyToUse {
            fields["ready_to_use"] = .bool(true)
            fields["category"] = .string(curation.category)
            fields["position"] = .number(Double(curation.position))
        }
        return fields
    }

    package init(
        tenantID: TenantID, segmentID: String, kind: SegmentKind, definition: SegmentDefinition, references: [String], state: SegmentState,
        curation: SegmentCuration, size: Int64, lastRefresh: SegmentRefreshStatus?, nextRefreshAt: Date?, revision: Int64, etag: Int64,
        creator: String, createdAt: Date, updatedAt: Date, deletedAt: Date?, purgeAt: Date?, pullAuthHeaderSet: Bool,
        refreshedRevision: Int64? = nil, definitionRevision: Int64 = 1
    ) {
        self.tenantID = tenantID
        self.segmentID = segmentID
        self.kind = kind
        self.definition = definition
        self.references = references
        self.state = state
        self.curation = curation
        self.size = size
        self.lastRefresh = lastRefresh
        self.nextRefreshAt = nextRefreshAt
        self.revision = revision
        self.etag = etag
        self.creator = creator
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deletedAt = deletedAt
        self.purgeAt = purgeAt
        self.pullAuthHeaderSet = pullAuthHeaderSet
        self.refreshedRevision = refreshedRevision
        self.definitionRevision = definitionRevision
    }
}

/// A segment revision: who changed what, and the definition after the change.
public struct SegmentRevisionRecord: Sendable, Equatable {
    public let segmentID: String
    public let revision: Int64
    public let createdAt: Date
    public let actor: String
    public let changedFields: [String]
    public let definition: SegmentDefinition

    package init(segmentID: String, revision: Int64, createdAt: Date, actor: String, changedFields: [String], definition: SegmentDefinition) {
        self.segmentID = segmentID
        self.revision = revision
        self.createdAt = createdAt
        self.actor = actor
        self.changedFields = changedFields
        self.definition = definition
    }
}
