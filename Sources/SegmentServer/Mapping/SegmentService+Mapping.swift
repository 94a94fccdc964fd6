import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentdAPI
import SwiftProtobuf

/// How `SegmentService` maps between messages and domain values.
extension SegmentService {
    static let kinds: [SegmentKind: Segmentd_V1_Segment.Kind] = [.ruleBased: .ruleBased, .connector: .connector, .predictive: .predictive]

    static let states: [SegmentState: Segmentd_V1_Segment.State] = [.active: .active, .paused: .paused, .archived: .archived]

    static func proto(_ record: SegmentRecord) -> Segmentd_V1_Segment {
        .with {
            $0.name = record.name
            $0.displayName = record.definition.displayName
            $0.description_p = record.definition.description
            $0.kind = kinds[record.kind] ?? .ruleBased
            if let rule = RuleService.definition(record.definition) { $0.rule = rule }
            if let connector = record.definition.connector {
                $0.connector = SegmentKindMapping.proto(connector, authHeaderSet: record.pullAuthHeaderSet)
            }
            if let predictive = record.definition.predictive { $0.predictive = SegmentKindMapping.proto(predictive) }
            $0.schedule = proto(record.definition.schedule)
            $0.realTime = record.definition.realTime
            $0.state = states[record.state] ?? .active
            if record.curation.readyToUse {
                $0.curation = .with {
                    $0.readyToUse = true
                    $0.category = record.curation.category
                    $0.position = Int32(record.curation.position)
                    $0.note = record.curation.note
                    $0.curator = record.curation.curator
                    if let pinned = record.curation.pinnedAt { $0.pinTime = .init(date: pinned) }
                }
            }
            if let refresh = record.lastRefresh {
                $0.lastRefresh = .with {
                    $0.time = .init(date: refresh.time)
                    $0.outcome = refresh.outcome
                    $0.error = refresh.error ?? ""
                    if let ms = refresh.durationMilliseconds { $0.duration = .init(seconds: ms / 1000, nanos: Int32(ms % 1000) * 1_000_000) }
                    if let job = refresh.jobID { $0.operation = "tenants/\(record.tenantID)/operations/\(job)" }
                    $0.connectorCount = refresh.connectorCount ?? 0
                    $0.matchedCount = refresh.matchedCount ?? 0
                }
            }
            $0.size = record.size
            $0.revision = record.revision
            $0.createTime = .init(date: record.createdAt)
            $0.updateTime = .init(date: record.updatedAt)
            if let deleted = record.deletedAt { $0.deleteTime = .init(date: deleted) }
            if let purge = record.purgeAt { $0.purgeTime = .init(date: purge) }
            $0.creator = record.creator
            $0.etag = String(record.etag)
            $0.refreshedRevision = record.refreshedRevision ?? 0
            $0.definitionRevision = record.definitionRevision
            switch record.freshness {
            case .neverRefreshed: $0.freshness = .neverRefreshed
            case .fresh: $0.freshness = .fresh
            case .stale: $0.freshness = .stale
            }
            if let next = record.scheduledRefreshAt { $0.nextRefreshTime = .init(date: next) }
        }
    }

    /// A changed segment, naming the refresh started with the change, with its rule's warnings.
    static func proto(_ change: SegmentChange) -> Segmentd_V1_Segment {
        var segment = proto(change.segment)
        if let job = change.refresh { segment.refreshOperation = job.name }
        segment.warnings = change.warnings.map(RuleService.proto)
        return segment
    }

    static func proto(_ schedule: SegmentSchedule) -> Segmentd_V1_Schedule {
        .with {
            switch schedule.cadence {
            case .manual: $0.manual = true
            case .everyHours(let hours): $0.everyHours = Int32(hours)
            case .daily(let hour, let minute, let zone):
                $0.daily = .with {
                    $0.timeOfDay = String(format: "%02d:%02d", hour, minute)
                    $0.timeZone = zone
                }
            }
            $0.afterDependencies = schedule.afterDependencies
        }
    }

    /// The request's schedule (nil when unset: the tenant's default).
    static func schedule(_ proto: Segmentd_V1_Schedule?) throws -> ScheduleRequest? {
        guard let proto else { return nil }
        switch proto.cadence {
        case nil: return ScheduleRequest(cadence: nil, afterDependencies: proto.afterDependencies)
        case .manual?: return ScheduleRequest(cadence: .manual, afterDependencies: proto.afterDependencies)
        case .everyHours(let hours)?: return ScheduleRequest(cadence: .everyHours(Int(hours)), afterDependencies: proto.afterDependencies)
        case .daily(let daily)?:
            let parts = daily.timeOfDay.split(separator: ":")
            guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]) else {
                throw DomainError.invalid("segment.schedule.daily.time_of_day", "HH:MM, such as 03:00")
            }
            return ScheduleRequest(
                cadence: .daily(hour: hour, minute: minute, timeZone: daily.timeZone.isEmpty ? nil : daily.timeZone),
                afterDependencies: proto.afterDependencies)
        }
    }

    /// The definition fields a request sends, translated (the kinds' settings only where the request has them).
    static func input(_ segment: Segmentd_V1_Segment, fields: Set<SegmentField>? = nil) throws -> SegmentInput {
        func wanted(_ field: SegmentField, _ present: Bool) -> Bool { fields.map { $0.contains(field) } ?? present }
        var input = SegmentInput(displayName: segment.displayName, description: segment.description_p)
        if wanted(.rule, segment.hasRule) { input.rule = RuleService.source(segment.rule, field: "segment.rule") }
        if wanted(.connector, segment.hasConnector) { (input.connector, input.pullAuthHeader) = try SegmentKindMapping.connector(segment.connector) }
        if wanted(.predictive, segment.hasPredictive) { input.predictive = try SegmentKindMapping.predictive(segment.predictive) }
        if wanted(.schedule, segment.hasSchedule) { input.schedule = try schedule(segment.hasSchedule ? segment.schedule : nil) }
        input.realTime = segment.realTime
        return input
    }

    static func proto(_ draft: SegmentDraft) -> Segmentd_V1_Segment {
        .with {
            $0.name = draft.name
            $0.displayName = draft.definition.displayName
            $0.description_p = draft.definition.description
            $0.kind = kinds[draft.kind] ?? .ruleBased
            if let rule = RuleService.definition(draft.definition) { $0.rule = rule }
            if let connector = draft.definition.connector {
                $0.connector = SegmentKindMapping.proto(connector, authHeaderSet: draft.pullAuthHeaderSet)
            }
            if let predictive = draft.definition.predictive { $0.predictive = SegmentKindMapping.proto(predictive) }
            $0.schedule = proto(draft.definition.schedule)
            $0.realTime = draft.definition.realTime
            $0.warnings = draft.warnings.map(RuleService.proto)
        }
    }

    static func proto(_ row: BreakdownRow) -> Segmentd_V1_BreakdownBucket {
        .with {
            $0.value = row.label
            $0.count = row.count
            switch row.kind {
            case .value: break
            case .range(let low, let high, _):
                $0.low = low
                $0.high = high
            case .notSet: $0.notSet = true
            case .other: $0.other = true
            }
        }
    }

    static func proto(_ revision: SegmentRevisionRecord, of record: SegmentRecord) -> Segmentd_V1_SegmentRevision {
        .with {
            $0.name = "\(record.name)/revisions/\(revision.revision)"
            $0.revision = revision.revision
            $0.createTime = .init(date: revision.createdAt)
            $0.actor = revision.actor
            $0.changedFields = revision.changedFields
            var snapshot = proto(record)
            snapshot.displayName = revision.definition.displayName
            snapshot.description_p = revision.definition.description
            if let rule = RuleService.definition(revision.definition) { snapshot.rule = rule } else { snapshot.clearRule() }
            if let connector = revision.definition.connector {
                snapshot.connector = SegmentKindMapping.proto(connector, authHeaderSet: record.pullAuthHeaderSet)
            }
            if let predictive = revision.definition.predictive { snapshot.predictive = SegmentKindMapping.proto(predictive) }
            snapshot.schedule = proto(revision.definition.schedule)
            snapshot.realTime = revision.definition.realTime
            snapshot.revision = revision.revision
            $0.snapshot = snapshot
        }
    }
}
