import Foundation
import PostgresNIO

/// The kinds of segment.
public enum SegmentKind: String, Sendable, CaseIterable {
    case ruleBased = "rule_based", connector, predictive
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
}

/// The definition fields a revision records.
public struct SegmentDefinition: Sendable, Equatable, Codable {
    public var displayName: String
    public var description: String
    /// Canonical rule text (rule-based segments).
    public var ruleText: String?
    public var schedule: SegmentSchedule
    /// Connector segments: where members come from.
    public var connector: ConnectorSettings?
    /// Predictive segments: what is predicted.
    public var predictive: PredictiveSettings?

    public init(
        displayName: String, description: String, ruleText: String?, schedule: SegmentSchedule,
        connector: ConnectorSettings? = nil, predictive: PredictiveSettings? = nil
    ) {
        self.displayName = displayName
        self.description = description
        self.ruleText = ruleText
        self.schedule = schedule
        self.connector = connector
        self.predictive = predictive
    }

    enum CodingKeys: String, CodingKey {
        case displayName = "display_name", description, ruleText = "rule_text", schedule, connector, predictive
    }

    /// The kind settings as stored in `segments.config`.
    var configJSON: String {
        if let connector { return KindConfig(connector: connector, predictive: nil).sortedJSON }
        if let predictive { return KindConfig(connector: nil, predictive: predictive).sortedJSON }
        return "{}"
    }

    struct KindConfig: Codable {
        var connector: ConnectorSettings?
        var predictive: PredictiveSettings?
    }

    /// Field names (AIP style) that differ from `other`.
    func changedFields(from other: SegmentDefinition) -> [String] {
        var fields: [String] = []
        if displayName != other.displayName { fields.append("display_name") }
        if description != other.description { fields.append("description") }
        if ruleText != other.ruleText { fields.append("rule") }
        if schedule != other.schedule { fields.append("schedule") }
        if connector != other.connector { fields.append("connector") }
        if predictive != other.predictive { fields.append("predictive") }
        return fields
    }

    var jsonText: String {
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

    /// `tenants/{tenant}/segments/{segment}`.
    public var name: String { "tenants/\(tenantID)/segments/\(segmentID)" }

    var auditFields: AuditFields {
        var fields: AuditFields = [
            "display_name": .string(definition.displayName), "description": .string(definition.description),
            "schedule": .string(definition.schedule.jsonText), "state": .string(state.rawValue), "revision": .number(Double(revision)),
        ]
        if let rule = definition.ruleText { fields["rule"] = .string(rule) }
        if definition.connector != nil || definition.predictive != nil { fields["config"] = .string(definition.configJSON) }
        if curation.readyToUse {
            fields["ready_to_use"] = .bool(true)
            fields["category"] = .string(curation.category)
            fields["position"] = .number(Double(curation.position))
        }
        return fields
    }

    static let columns = """
        tenant_id, segment_id, kind, display_name, description, rule_text, refs, schedule::text, state,
        ready_to_use, category, position, curation_note, curator, pinned_at, size,
        last_refresh_at, last_refresh_outcome, last_refresh_error, last_refresh_ms, last_refresh_job, next_refresh_at,
        revision, etag, creator, created_at, updated_at, deleted_at, purge_at, config::text, connector_count, matched_count,
        coalesce((SELECT s.auth_header IS NOT NULL FROM connector_pull_state s
                  WHERE s.tenant_id = segments.tenant_id AND s.segment_id = segments.segment_id), false) AS auth_header_set
        """

    static func decode(_ row: PostgresRandomAccessRow) throws -> SegmentRecord {
        let refreshAt = try row["last_refresh_at"].decode(Date?.self)
        let config = (try? JSONDecoder().decode(SegmentDefinition.KindConfig.self, from: Data(try row["config"].decode(String.self).utf8)))
        return SegmentRecord(
            tenantID: TenantID(try row["tenant_id"].decode(String.self))!,
            segmentID: try row["segment_id"].decode(String.self),
            kind: SegmentKind(rawValue: try row["kind"].decode(String.self)) ?? .ruleBased,
            definition: SegmentDefinition(
                displayName: try row["display_name"].decode(String.self), description: try row["description"].decode(String.self),
                ruleText: try row["rule_text"].decode(String?.self), schedule: SegmentSchedule.decode(try row["schedule"].decode(String.self)),
                connector: config?.connector, predictive: config?.predictive),
            references: try row["refs"].decode([String].self),
            state: SegmentState(rawValue: try row["state"].decode(String.self)) ?? .active,
            curation: SegmentCuration(
                readyToUse: try row["ready_to_use"].decode(Bool.self), category: try row["category"].decode(String.self),
                position: Int(try row["position"].decode(Int32.self)), note: try row["curation_note"].decode(String.self),
                curator: try row["curator"].decode(String.self), pinnedAt: try row["pinned_at"].decode(Date?.self)),
            size: try row["size"].decode(Int64.self),
            lastRefresh: try refreshAt.map {
                SegmentRefreshStatus(
                    time: $0, outcome: try row["last_refresh_outcome"].decode(String?.self) ?? "",
                    error: try row["last_refresh_error"].decode(String?.self), durationMilliseconds: try row["last_refresh_ms"].decode(Int64?.self),
                    jobID: try row["last_refresh_job"].decode(Int64?.self),
                    connectorCount: try row["connector_count"].decode(Int64?.self), matchedCount: try row["matched_count"].decode(Int64?.self))
            },
            nextRefreshAt: try row["next_refresh_at"].decode(Date?.self),
            revision: try row["revision"].decode(Int64.self), etag: try row["etag"].decode(Int64.self),
            creator: try row["creator"].decode(String.self), createdAt: try row["created_at"].decode(Date.self),
            updatedAt: try row["updated_at"].decode(Date.self), deletedAt: try row["deleted_at"].decode(Date?.self),
            purgeAt: try row["purge_at"].decode(Date?.self), pullAuthHeaderSet: try row["auth_header_set"].decode(Bool.self))
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
}
