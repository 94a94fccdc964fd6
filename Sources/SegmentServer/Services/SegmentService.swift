import Foundation
import GRPCCore
import SegmentEngine
import SegmentRules
import SegmentStore
import SegmentdAPI
import SwiftProtobuf
import SegmentDomain

/// `segmentd.v1.SegmentService`: the segment lifecycle, revisions, pause and
/// ready-to-use curation. (Refresh, history, inspect and export are served by
/// the job queue's issue and answer UNIMPLEMENTED until then.)
struct SegmentService: Segmentd_V1_SegmentService.SimpleServiceProtocol {
    let store: SegmentStore
    let rules: RuleStore
    let refresh: SegmentRefresh
    let membership: MembershipStore
    let exports: ExportStore
    let jobs: JobQueue
    let exportDirectory: String
    let clock: @Sendable () -> Date

    // MARK: Mapping

    static let kinds: [SegmentKind: Segmentd_V1_Segment.Kind] = [.ruleBased: .ruleBased, .connector: .connector, .predictive: .predictive]
    static let states: [SegmentState: Segmentd_V1_Segment.State] = [.active: .active, .paused: .paused, .archived: .archived]

    static func proto(_ record: SegmentRecord) -> Segmentd_V1_Segment {
        .with {
            $0.name = record.name
            $0.displayName = record.definition.displayName
            $0.description_p = record.definition.description
            $0.kind = kinds[record.kind] ?? .ruleBased
            if let text = record.definition.ruleText, let rule = try? RuleText.parse(text) {
                $0.rule = RuleService.definition(rule)
            }
            if let connector = record.definition.connector {
                $0.connector = SegmentKindMapping.proto(connector, authHeaderSet: record.pullAuthHeaderSet)
            }
            if let predictive = record.definition.predictive { $0.predictive = SegmentKindMapping.proto(predictive) }
            $0.schedule = proto(record.definition.schedule)
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
        }
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

    /// The request's schedule; daily at 03:00 in the tenant's zone when unset.
    func schedule(_ proto: Segmentd_V1_Schedule?, tenant: TenantID) async throws -> SegmentSchedule {
        guard let proto, let cadence = proto.cadence else {
            let zone = try await rules.tenantTimeZoneName(tenant: tenant)
            return SegmentSchedule(cadence: SegmentSchedule.defaultDaily(timeZone: zone).cadence, afterDependencies: proto?.afterDependencies ?? false)
        }
        switch cadence {
        case .manual: return SegmentSchedule(cadence: .manual, afterDependencies: proto.afterDependencies)
        case .everyHours(let hours): return SegmentSchedule(cadence: .everyHours(Int(hours)), afterDependencies: proto.afterDependencies)
        case .daily(let daily):
            let parts = daily.timeOfDay.split(separator: ":")
            guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]) else {
                throw DomainError.invalid("segment.schedule.daily.time_of_day", "HH:MM, such as 03:00")
            }
            let zone = daily.timeZone.isEmpty ? try await rules.tenantTimeZoneName(tenant: tenant) : daily.timeZone
            return SegmentSchedule(cadence: .daily(hour: hour, minute: minute, timeZone: zone), afterDependencies: proto.afterDependencies)
        }
    }

    /// The canonical text and references of a segment's rule, validated against the catalog.
    func rule(_ definition: Segmentd_V1_RuleDefinition, tenant: TenantID) async throws -> (text: String, references: [String]) {
        let (rule, _) = try await RuleService.validRule(definition, field: "segment.rule", tenant: tenant, store: rules)
        return (RuleText.print(rule), SegmentReferences.referenced(by: rule))
    }

    // MARK: Lifecycle

    func createSegment(request: Segmentd_V1_CreateSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: call.principal)
        let segment = request.segment
        let kind: SegmentKind
        var definition = SegmentDefinition(
            displayName: segment.displayName.isEmpty ? request.segmentID : segment.displayName, description: segment.description_p,
            ruleText: nil, schedule: try await schedule(segment.hasSchedule ? segment.schedule : nil, tenant: tenant))
        var references: [String] = []
        var authHeader: String?
        switch segment.kind {
        case .ruleBased, .unspecified:
            guard segment.hasRule else { throw DomainError.invalid("segment.rule", "a rule-based segment needs a rule (text or AST)") }
            kind = .ruleBased
            (definition.ruleText, references) = try await rule(segment.rule, tenant: tenant)
        case .connector:
            guard !segment.hasRule, !segment.hasPredictive else { throw DomainError.invalid("segment.connector", "a connector segment has no rule or predictive settings") }
            kind = .connector
            (definition.connector, authHeader) = try SegmentKindMapping.connector(segment.connector)
        case .predictive:
            guard !segment.hasRule, !segment.hasConnector else { throw DomainError.invalid("segment.predictive", "a predictive segment has no rule or connector settings") }
            guard segment.hasPredictive else { throw DomainError.invalid("segment.predictive", "set the goal (CONVERT or CHURN), the event and the bucket") }
            kind = .predictive
            definition.predictive = try SegmentKindMapping.predictive(segment.predictive)
        case .UNRECOGNIZED:
            throw DomainError.invalid("segment.kind", "RULE_BASED, CONNECTOR or PREDICTIVE")
        }
        if request.validateOnly {
            guard SegmentStore.isValidID(request.segmentID) else { throw DomainError.invalid("segment_id", "1-63 of a-z, 0-9 and _, starting with a letter") }
            let ruleDefinition = try definition.ruleText.map { RuleService.definition(try RuleText.parse($0)) }
            return .with {
                $0.name = "tenants/\(tenant)/segments/\(request.segmentID)"
                $0.displayName = definition.displayName
                $0.description_p = definition.description
                $0.kind = Self.kinds[kind] ?? .ruleBased
                if let ruleDefinition { $0.rule = ruleDefinition }
                if let connector = definition.connector { $0.connector = SegmentKindMapping.proto(connector, authHeaderSet: authHeader != nil) }
                if let predictive = definition.predictive { $0.predictive = SegmentKindMapping.proto(predictive) }
                $0.schedule = Self.proto(definition.schedule)
            }
        }
        return Self.proto(try await store.create(
            tenant: tenant, segmentID: request.segmentID, kind: kind, definition: definition, references: references,
            pullAuthHeader: authHeader, actor: call.principal.keyName, audit: call.audit()))
    }

    func getSegment(request: Segmentd_V1_GetSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: principal)
        return Self.proto(try await store.get(tenant: tenant, segmentID: id))
    }

    func listSegments(request: Segmentd_V1_ListSegmentsRequest, context: ServerContext) async throws -> Segmentd_V1_ListSegmentsResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        var filter = SegmentFilter()
        filter.kind = Self.kinds.first { $0.value == request.kind }?.key
        filter.state = Self.states.first { $0.value == request.state }?.key
        filter.readyToUse = request.readyToUse
        filter.category = request.category.isEmpty ? nil : request.category
        filter.text = request.query.isEmpty ? nil : request.query
        filter.showDeleted = request.showDeleted
        let (records, next) = try await store.list(
            tenant: tenant, filter: filter, pageSize: try ResourceName.pageSize(request.pageSize, default: 100, maximum: 1000),
            pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
        return .with {
            $0.segments = records.map(Self.proto)
            $0.nextPageToken = next ?? ""
        }
    }

    func updateSegment(request: Segmentd_V1_UpdateSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.segment.name, collection: "segments", field: "segment.name", for: call.principal)
        let paths = try ResourceName.updatePaths(
            request.updateMask.paths, allowed: ["display_name", "description", "rule", "schedule", "connector", "predictive"])
        let segment = request.segment
        var newRule: (text: String, references: [String])?
        if paths.contains("rule") { newRule = try await rule(segment.rule, tenant: tenant) }
        var newConnector: (ConnectorSettings, authHeader: String?)?
        if paths.contains("connector") { newConnector = try SegmentKindMapping.connector(segment.connector) }
        let newPredictive = paths.contains("predictive") ? try SegmentKindMapping.predictive(segment.predictive) : nil
        let newSchedule = paths.contains("schedule") ? try await schedule(segment.hasSchedule ? segment.schedule : nil, tenant: tenant) : nil
        return Self.proto(try await store.update(
            tenant: tenant, segmentID: id, etag: try ResourceName.etag(segment.etag, field: "segment.etag"),
            change: { definition in
                if paths.contains("display_name") { definition.displayName = segment.displayName }
                if paths.contains("description") { definition.description = segment.description_p }
                if let newRule { definition.ruleText = newRule.text }
                if let newSchedule { definition.schedule = newSchedule }
                if let newConnector { definition.connector = newConnector.0 }
                if let newPredictive { definition.predictive = newPredictive }
            },
            references: newRule?.references, pullAuthHeader: newConnector?.authHeader, actor: call.principal.keyName, audit: call.audit()))
    }

    func deleteSegment(request: Segmentd_V1_DeleteSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return Self.proto(try await store.delete(tenant: tenant, segmentID: id, etag: try ResourceName.etag(request.etag), audit: call.audit()))
    }

    func undeleteSegment(request: Segmentd_V1_UndeleteSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return Self.proto(try await store.undelete(tenant: tenant, segmentID: id, audit: call.audit()))
    }

    func duplicateSegment(request: Segmentd_V1_DuplicateSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        let source = try await store.get(tenant: tenant, segmentID: id, showDeleted: false)
        var definition = source.definition
        definition.displayName = request.displayName.isEmpty ? String("Copy of \(source.definition.displayName)".prefix(100)) : request.displayName
        return Self.proto(try await store.create(
            tenant: tenant, segmentID: request.newSegmentID, kind: source.kind, definition: definition, references: source.references,
            actor: call.principal.keyName, audit: call.audit()))
    }

    // MARK: Revisions

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
            if let text = revision.definition.ruleText, let rule = try? RuleText.parse(text) { snapshot.rule = RuleService.definition(rule) }
            if let connector = revision.definition.connector {
                snapshot.connector = SegmentKindMapping.proto(connector, authHeaderSet: record.pullAuthHeaderSet)
            }
            if let predictive = revision.definition.predictive { snapshot.predictive = SegmentKindMapping.proto(predictive) }
            snapshot.schedule = proto(revision.definition.schedule)
            snapshot.revision = revision.revision
            $0.snapshot = snapshot
        }
    }

    func listSegmentRevisions(
        request: Segmentd_V1_ListSegmentRevisionsRequest, context: ServerContext
    ) async throws -> Segmentd_V1_ListSegmentRevisionsResponse {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try ResourceName.child(request.parent, collection: "segments", field: "parent", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 50, maximum: 500)
        var below = Int64.max
        if !request.pageToken.isEmpty {
            guard let parts = PageToken.decode(request.pageToken), let value = parts.first.flatMap(Int64.init) else {
                throw DomainError.invalid("page_token", "not a token from this list")
            }
            below = value
        }
        let record = try await store.get(tenant: tenant, segmentID: id)
        let revisions = try await store.revisions(tenant: tenant, segmentID: id).filter { $0.revision < below }
        let page = Array(revisions.prefix(size))
        return .with {
            $0.revisions = page.map { Self.proto($0, of: record) }
            $0.nextPageToken = revisions.count > size ? PageToken.encode([String(page.last!.revision)]) : ""
        }
    }

    /// `tenants/{t}/segments/{s}/revisions/{n}`.
    func revisionName(_ name: String, principal: Principal) throws -> (TenantID, String, Int64) {
        let (tenant, id, number) = try ResourceName.underSegment(name, "revisions", idName: "revision", field: "name", for: principal)
        guard let revision = number.flatMap({ Int64($0) }) else {
            throw DomainError.invalid("name", "expected tenants/{tenant}/segments/{segment}/revisions/{revision}, got '\(name.prefix(200))'")
        }
        return (tenant, id, revision)
    }

    func getSegmentRevision(request: Segmentd_V1_GetSegmentRevisionRequest, context: ServerContext) async throws -> Segmentd_V1_SegmentRevision {
        let principal = try RequestContext.require().principal
        let (tenant, id, number) = try revisionName(request.name, principal: principal)
        let record = try await store.get(tenant: tenant, segmentID: id)
        guard let revision = try await store.revisions(tenant: tenant, segmentID: id).first(where: { $0.revision == number }) else {
            throw DomainError.notFound(request.name)
        }
        return Self.proto(revision, of: record)
    }

    func rollbackSegment(request: Segmentd_V1_RollbackSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        guard let revision = try await store.revisions(tenant: tenant, segmentID: id).first(where: { $0.revision == request.revision }) else {
            throw DomainError.notFound("\(request.name)/revisions/\(request.revision)")
        }
        // The old rule must still be valid against today's catalog and segments.
        var references: [String] = []
        if let text = revision.definition.ruleText {
            references = try await rule(.with { $0.text = text }, tenant: tenant).references
        }
        return Self.proto(try await store.update(
            tenant: tenant, segmentID: id, etag: try ResourceName.etag(request.etag),
            change: { $0 = revision.definition }, references: references, actor: call.principal.keyName, audit: call.audit()))
    }

    // MARK: State and curation

    func pauseSegment(request: Segmentd_V1_SetSegmentStateRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return Self.proto(try await store.setState(tenant: tenant, segmentID: id, state: .paused, audit: call.audit()))
    }

    func resumeSegment(request: Segmentd_V1_SetSegmentStateRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return Self.proto(try await store.setState(tenant: tenant, segmentID: id, state: .active, audit: call.audit()))
    }

    func pinSegment(request: Segmentd_V1_PinSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return Self.proto(try await store.curate(
            tenant: tenant, segmentID: id, pin: true, category: request.category, position: Int(request.position), note: request.note,
            curator: call.principal.keyName, audit: call.audit()))
    }

    func unpinSegment(request: Segmentd_V1_UnpinSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Segment {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        return Self.proto(try await store.curate(
            tenant: tenant, segmentID: id, pin: false, category: "", position: 0, note: "", curator: "", audit: call.audit()))
    }

    func listReadyToUseSegments(
        request: Segmentd_V1_ListReadyToUseSegmentsRequest, context: ServerContext
    ) async throws -> Segmentd_V1_ListReadyToUseSegmentsResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 100, maximum: 1000)
        let offset = request.pageToken.isEmpty ? 0 : (PageToken.decode(request.pageToken)?.first.flatMap(Int.init) ?? -1)
        guard offset >= 0 else { throw DomainError.invalid("page_token", "not a token from this list") }
        let all = try await store.listReadyToUse(tenant: tenant, category: request.category.isEmpty ? nil : request.category)
        let page = Array(all.dropFirst(offset).prefix(size))
        return .with {
            $0.segments = page.map(Self.proto)
            $0.nextPageToken = offset + size < all.count ? PageToken.encode([String(offset + size)]) : ""
        }
    }

    // MARK: Not yet (the job queue's issue)

    func refreshSegment(request: Segmentd_V1_RefreshSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Operation {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        let segment = try await store.get(tenant: tenant, segmentID: id, showDeleted: false)
        guard segment.state == .active else {
            throw APIError(
                .failedPrecondition, "\(segment.name) is \(segment.state.rawValue): resume it to refresh it (its last membership is kept)",
                reason: "SEGMENT_PAUSED", metadata: ["segment": segment.name])
        }
        return OperationService.proto(try await store.requestRefresh(
            tenant: tenant, segmentID: id, creator: call.principal.keyName, audit: call.audit()))
    }

    func listSegmentSizeHistory(
        request: Segmentd_V1_ListSegmentSizeHistoryRequest, context: ServerContext
    ) async throws -> Segmentd_V1_ListSegmentSizeHistoryResponse {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 100, maximum: 1000)
        let points = try await refresh.history(tenant: tenant, segmentID: id, limit: size)
        return .with {
            $0.points = points.map { point in
                .with {
                    $0.time = .init(date: point.time)
                    $0.size = point.size
                    $0.entered = point.entered
                    $0.exited = point.exited
                    $0.duration = .init(seconds: point.durationMilliseconds / 1000, nanos: Int32(point.durationMilliseconds % 1000) * 1_000_000)
                }
            }
        }
    }

    func inspectSegment(request: Segmentd_V1_InspectSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_SegmentInspection {
        let principal = try RequestContext.require().principal
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: principal)
        guard (0...1000).contains(request.sampleSize) else { throw DomainError.invalid("sample_size", "0-1000 (0 means 10)") }
        guard (0...1000).contains(request.breakdownLimit) else { throw DomainError.invalid("breakdown_limit", "0-1000 (0 means 20)") }
        var other: String?
        if !request.overlapSegment.isEmpty {
            other = try ResourceName.child(request.overlapSegment, collection: "segments", field: "overlap_segment", for: principal).id
        }
        let segment = try await store.get(tenant: tenant, segmentID: id, showDeleted: false)
        let inspection = try await membership.inspect(
            tenant: tenant, segmentID: id, sample: request.sampleSize == 0 ? 10 : Int(request.sampleSize),
            attribute: request.breakdownAttribute.isEmpty ? nil : request.breakdownAttribute,
            breakdownLimit: request.breakdownLimit == 0 ? 20 : Int(request.breakdownLimit), other: other)
        let history = try await refresh.history(tenant: tenant, segmentID: id, limit: 30)
        return .with {
            $0.segment = Self.proto(segment)
            $0.count = inspection.count
            $0.sampleUserIds = inspection.sample
            $0.breakdown = inspection.breakdown.map { bucket in .with { $0.value = bucket.value; $0.count = bucket.count } }
            if let overlap = inspection.overlap {
                $0.overlap = .with {
                    $0.segment = request.overlapSegment
                    $0.both = overlap.both
                    $0.onlyThis = overlap.onlyThis
                    $0.onlyOther = overlap.onlyOther
                }
            }
            $0.sizeHistory = history.map { point in
                .with {
                    $0.time = .init(date: point.time)
                    $0.size = point.size
                    $0.entered = point.entered
                    $0.exited = point.exited
                }
            }
            $0.enteredSample = inspection.enteredSample
            $0.exitedSample = inspection.exitedSample
        }
    }

    func exportSegment(request: Segmentd_V1_ExportSegmentRequest, context: ServerContext) async throws -> Segmentd_V1_Operation {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.name, collection: "segments", field: "name", for: call.principal)
        let format = request.format.isEmpty ? "csv" : request.format.lowercased()
        guard format == "csv" || format == "ndjson" else { throw DomainError.invalid("format", "csv or ndjson") }
        guard request.attributes.count <= 100 else { throw DomainError.invalid("attributes", "at most 100") }
        for (index, attribute) in request.attributes.enumerated() where !IngestLimits.isValidName(attribute) {
            throw DomainError.invalid("attributes[\(index)]", "'\(attribute)' is not an attribute name")
        }
        return OperationService.proto(try await exports.request(
            tenant: tenant, segmentID: id, format: format, attributes: request.attributes, creator: call.principal.keyName, audit: call.audit()))
    }

    /// Streams a finished export's file in chunks from `offset`, with its size and checksum.
    func downloadExport(
        request: Segmentd_V1_DownloadExportRequest, response: RPCWriter<Segmentd_V1_ExportChunk>, context: ServerContext
    ) async throws {
        let principal = try RequestContext.require().principal
        let (tenant, exportID) = try ResourceName.child(request.name, collection: "exports", field: "name", for: principal)
        guard let jobID = Int64(exportID) else { throw DomainError.notFound(request.name) }
        let job: JobRecord
        do {
            job = try await jobs.get(tenant: tenant, jobID: jobID)
        } catch let error as DomainError where error.code == .notFound {
            throw DomainError.notFound(request.name)
        }
        guard job.kind == .export else { throw DomainError.notFound(request.name) }
        guard job.state == .succeeded, case .export(let result)? = job.result else {
            throw APIError(.failedPrecondition, "\(request.name) is not ready: its operation is \(job.state.rawValue)", reason: "FAILED_PRECONDITION",
                           metadata: ["operation": job.name])
        }
        let path = ExportHandler.path(directory: exportDirectory, tenant: tenant, fileName: result.file)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw APIError(.failedPrecondition, "\(request.name)'s file is gone from the export directory; export again", reason: "FAILED_PRECONDITION")
        }
        defer { try? handle.close() }
        let total = result.bytes
        guard (0...total).contains(request.offset) else { throw DomainError.invalid("offset", "0-\(total)") }
        try handle.seek(toOffset: UInt64(request.offset))
        var offset = request.offset
        repeat {
            let data = try handle.read(upToCount: 256 * 1024) ?? Data()
            try await response.write(.with {
                $0.data = data
                $0.offset = offset
                $0.totalBytes = total
                $0.sha256 = result.sha256
            })
            offset += Int64(data.count)
            if data.isEmpty { break }
        } while offset < total
    }
}
