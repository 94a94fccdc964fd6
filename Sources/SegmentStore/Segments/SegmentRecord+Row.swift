import Foundation
import PostgresNIO
import SegmentDomain
import SegmentRules

extension SegmentRecord {
    static let columns = """
        tenant_id, segment_id, kind, display_name, description, rule_text, rule_ast::text, rule_description, refs, schedule::text, state,
        ready_to_use, category, position, curation_note, curator, pinned_at, size,
        last_refresh_at, last_refresh_outcome, last_refresh_error, last_refresh_ms, last_refresh_job, next_refresh_at,
        revision, etag, creator, created_at, updated_at, deleted_at, purge_at, config::text, connector_count, matched_count,
        refreshed_revision, definition_revision, real_time,
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
                ruleText: try row["rule_text"].decode(String?.self),
                ruleAST: try row["rule_ast"].decode(String?.self).map { try JSONDecoder().decode(Rule.self, from: Data($0.utf8)) },
                ruleDescription: try row["rule_description"].decode(String?.self),
                schedule: SegmentSchedule.decode(try row["schedule"].decode(String.self)),
                connector: config?.connector, predictive: config?.predictive, realTime: try row["real_time"].decode(Bool.self)),
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
            purgeAt: try row["purge_at"].decode(Date?.self), pullAuthHeaderSet: try row["auth_header_set"].decode(Bool.self),
            refreshedRevision: try row["refreshed_revision"].decode(Int64?.self),
            definitionRevision: try row["definition_revision"].decode(Int64.self))
    }
}
