import Foundation
import SegmentDomain
import SegmentRules
import SegmentStore

/// The segment lifecycle: create, update, delete, duplicate, roll back, pause,
/// curate, refresh, inspect and export. Each business rule is checked here (or
/// in the domain) once; the store only reads and writes.
public struct SegmentCommands: Sendable {
    let store: SegmentStore
    let rules: RuleEvaluation
    let ruleStore: RuleStore
    let membership: MembershipStore
    let exports: ExportStore
    let jobs: JobQueue
    let exportDirectory: String

    public init(
        store: SegmentStore, rules: RuleEvaluation, ruleStore: RuleStore, membership: MembershipStore,
        exports: ExportStore, jobs: JobQueue, exportDirectory: String
    ) {
        self.store = store
        self.rules = rules
        self.ruleStore = ruleStore
        self.membership = membership
        self.exports = exports
        self.jobs = jobs
        self.exportDirectory = exportDirectory
    }

    // MARK: Definitions

    /// The schedule of a request; daily at 03:00 in the tenant's zone when unset,
    /// and a daily time without a zone is in the tenant's zone.
    func schedule(_ request: ScheduleRequest?, tenant: TenantID) async throws -> SegmentSchedule {
        let afterDependencies = request?.afterDependencies ?? false
        switch request?.cadence {
        case nil:
            let zone = try await ruleStore.tenantTimeZoneName(tenant: tenant)
            return SegmentSchedule(cadence: SegmentSchedule.defaultDaily(timeZone: zone).cadence, afterDependencies: afterDependencies)
        case .manual?:
            return SegmentSchedule(cadence: .manual, afterDependencies: afterDependencies)
        case .everyHours(let hours)?:
            return SegmentSchedule(cadence: .everyHours(hours), afterDependencies: afterDependencies)
        case .daily(let hour, let minute, let zone)?:
            var timeZone = zone
            if timeZone == nil { timeZone = try await ruleStore.tenantTimeZoneName(tenant: tenant) }
            guard let timeZone else { throw DomainError(.internalError, "the tenant has no time zone") }
            return SegmentSchedule(cadence: .daily(hour: hour, minute: minute, timeZone: timeZone), afterDependencies: afterDependencies)
        }
    }

    /// A rule as saved: its canonical text, AST and restatement (so reads never parse it), and the segments it references.
    struct SavedRule {
        var text: String
        var ast: Rule
        var description: String
        var references: [String]
        /// What probably is a mistake against the tenant's data; saved anyway.
        var warnings: [RuleDiagnostic] = []

        init(_ rule: Rule, warnings: [RuleDiagnostic] = []) {
            self.warnings = warnings
            // Printing then parsing a rule gives the same AST, so the three forms agree.
            text = RuleText.print(rule)
            ast = rule
            description = RuleRestatement.describe(rule)
            references = SegmentReferences.referenced(by: rule)
        }

        func apply(to definition: inout SegmentDefinition) {
            definition.ruleText = text
            definition.ruleAST = ast
            definition.ruleDescription = description
        }
    }

    /// The rule of a request as saved, validated against the tenant's catalog.
    func canonicalRule(_ source: RuleSource, tenant: TenantID, segmentID: String) async throws -> SavedRule {
        let (rule, warnings) = try await rules.validRule(source, field: "segment.rule", tenant: tenant, saving: segmentID)
        return SavedRule(rule, warnings: warnings)
    }

    /// Saves the AST and restatement of rules saved before they were kept (run at startup).
    /// Returns how many were filled in, and the names of any whose stored text no longer parses.
    public func fillMissingRuleForms() async throws -> (filled: Int, unreadable: [String]) {
        var filled = 0
        var unreadable: [String] = []
        for (tenant, segmentID, text) in try await store.segmentsMissingRuleForms() {
            let rule: Rule
            do { rule = try RuleText.parse(text) } catch {
                unreadable.append(ResourceName.segmentName(tenant, segmentID))
                continue
            }
            var definition = SegmentDefinition(displayName: "", description: "", ruleText: text, schedule: SegmentSchedule(cadence: .manual))
            SavedRule(rule).apply(to: &definition)
            definition.ruleText = text
            try await store.saveRuleForms(tenant: tenant, segmentID: segmentID, definition: definition)
            filled += 1
        }
        return (filled, unreadable)
    }

    /// The definition of a new segment of `kind` from a request, checked.
    private func definition(
        _ input: SegmentInput, kind: SegmentKind, segmentID: String, tenant: TenantID
    ) async throws -> (SegmentDefinition, references: [String], warnings: [RuleDiagnostic]) {
        // A connector segment without settings is a PUSH connector.
        let connector = kind == .connector && input.connector == nil ? ConnectorSettings(source: .push) : input.connector
        var definition = SegmentDefinition(
            displayName: input.displayName.isEmpty ? segmentID : input.displayName, description: input.description, ruleText: nil,
            schedule: try await schedule(input.schedule, tenant: tenant), connector: connector, predictive: input.predictive,
            realTime: input.realTime)
        var references: [String] = []
        var warnings: [RuleDiagnostic] = []
        if let source = input.rule {
            let saved = try await canonicalRule(source, tenant: tenant, segmentID: segmentID)
            saved.apply(to: &definition)
            references = saved.references
            warnings = saved.warnings
        }
        try definition.validate(kind: kind)
        return (definition, references, warnings)
    }

    /// What `create` would save, checked and not saved (`validate_only`).
    public func draft(_ input: SegmentInput, kind: SegmentKind, segmentID: String, tenant: TenantID) async throws -> SegmentDraft {
        guard SegmentStore.isValidID(segmentID) else {
            throw DomainError.invalid("segment_id", "1-63 of a-z, 0-9 and _, starting with a letter (cart_abandoners_24h)")
        }
        let (definition, _, warnings) = try await definition(input, kind: kind, segmentID: segmentID, tenant: tenant)
        return SegmentDraft(
            name: ResourceName.segmentName(tenant, segmentID), kind: kind, definition: definition, pullAuthHeaderSet: input.pullAuthHeader != nil,
            warnings: warnings)
    }

    /// Creates a segment (revision 1); with `refresh`, enqueues its first refresh in the same transaction.
    public func create(
        _ input: SegmentInput, kind: SegmentKind, segmentID: String, tenant: TenantID, refresh: Bool = false, actor: String,
        audit: AuditContext
    ) async throws -> SegmentChange {
        let (definition, references, warnings) = try await definition(input, kind: kind, segmentID: segmentID, tenant: tenant)
        var change = try await store.create(
            tenant: tenant, segmentID: segmentID, kind: kind, definition: definition, references: references,
            pullAuthHeader: input.pullAuthHeader, refresh: refresh, actor: actor, audit: audit)
        change.warnings = warnings
        return change
    }

    /// Changes the fields named in `fields` to the request's values when `etag` matches;
    /// with `refresh`, enqueues a refresh in the same transaction.
    public func update(
        tenant: TenantID, segmentID: String, etag: Int64?, fields: Set<SegmentField>, input: SegmentInput, refresh: Bool = false,
        actor: String, audit: AuditContext
    ) async throws -> SegmentChange {
        var newRule: SavedRule?
        if fields.contains(.rule) {
            newRule = try await canonicalRule(input.rule ?? .text(""), tenant: tenant, segmentID: segmentID)
        }
        let newSchedule = fields.contains(.schedule) ? try await schedule(input.schedule, tenant: tenant) : nil
        let pullAuthHeader = fields.contains(.connector) ? input.pullAuthHeader : nil
        var change = try await store.update(
            tenant: tenant, segmentID: segmentID, etag: etag,
            change: { definition in
                if fields.contains(.displayName) { definition.displayName = input.displayName }
                if fields.contains(.description) { definition.description = input.description }
                newRule?.apply(to: &definition)
                if let newSchedule { definition.schedule = newSchedule }
                if fields.contains(.realTime) { definition.realTime = input.realTime }
                if fields.contains(.connector) {
                    var connector = input.connector
                    // The URL as it was shown (its query values redacted) keeps the stored one.
                    if let current = definition.connector?.pull, connector?.pull?.url == current.redactedURL {
                        connector?.pull?.url = current.url
                    }
                    definition.connector = connector
                }
                if fields.contains(.predictive) { definition.predictive = input.predictive }
            },
            references: newRule?.references, pullAuthHeader: pullAuthHeader, refresh: refresh, actor: actor, audit: audit)
        change.warnings = newRule?.warnings ?? []
        return change
    }

    public func get(tenant: TenantID, segmentID: String, showDeleted: Bool = true) async throws -> SegmentRecord {
        try await store.get(tenant: tenant, segmentID: segmentID, showDeleted: showDeleted)
    }

    public func list(tenant: TenantID, filter: SegmentFilter, pageSize: Int, pageToken: String?) async throws -> ([SegmentRecord], String?) {
        try await store.list(tenant: tenant, filter: filter, pageSize: pageSize, pageToken: pageToken)
    }

    public func delete(tenant: TenantID, segmentID: String, etag: Int64?, audit: AuditContext) async throws -> SegmentRecord {
        try await store.delete(tenant: tenant, segmentID: segmentID, etag: etag, audit: audit)
    }

    public func undelete(tenant: TenantID, segmentID: String, audit: AuditContext) async throws -> SegmentRecord {
        try await store.undelete(tenant: tenant, segmentID: segmentID, audit: audit)
    }

    /// A copy under a new id (its membership comes with its first refresh).
    public func duplicate(
        tenant: TenantID, segmentID: String, newSegmentID: String, displayName: String, actor: String, audit: AuditContext
    ) async throws -> SegmentRecord {
        let source = try await store.get(tenant: tenant, segmentID: segmentID, showDeleted: false)
        var definition = source.definition
        definition.displayName = displayName.isEmpty ? String("Copy of \(source.definition.displayName)".prefix(100)) : displayName
        return try await store.create(
            tenant: tenant, segmentID: newSegmentID, kind: source.kind, definition: definition, references: source.references,
            actor: actor, audit: audit
        ).segment
    }

    // MARK: Revisions

    /// Revisions, newest first.
    public func revisions(tenant: TenantID, segmentID: String) async throws -> [SegmentRevisionRecord] {
        try await store.revisions(tenant: tenant, segmentID: segmentID)
    }

    public func revision(tenant: TenantID, segmentID: String, number: Int64) async throws -> SegmentRevisionRecord {
        guard let revision = try await store.revisions(tenant: tenant, segmentID: segmentID).first(where: { $0.revision == number }) else {
            throw DomainError.notFound("\(ResourceName.segmentName(tenant, segmentID))/revisions/\(number)")
        }
        return revision
    }

    /// Makes an earlier revision's definition current again (as a new revision). Its
    /// rule must still be valid against today's catalog and segments. A rollback to
    /// another rule leaves the members stale until a refresh (`refresh` enqueues one
    /// in the same transaction).
    public func rollback(
        tenant: TenantID, segmentID: String, to number: Int64, etag: Int64?, refresh: Bool = false, actor: String, audit: AuditContext
    ) async throws -> SegmentChange {
        let revision = try await revision(tenant: tenant, segmentID: segmentID, number: number)
        var definition = revision.definition
        var references: [String] = []
        var warnings: [RuleDiagnostic] = []
        if let text = revision.definition.ruleText {
            let saved = try await canonicalRule(.text(text), tenant: tenant, segmentID: segmentID)
            saved.apply(to: &definition)
            references = saved.references
            warnings = saved.warnings
        }
        var change = try await store.update(
            tenant: tenant, segmentID: segmentID, etag: etag, change: { [definition] in $0 = definition }, references: references,
            refresh: refresh, actor: actor, audit: audit)
        change.warnings = warnings
        return change
    }

    // MARK: State and curation

    public func pause(tenant: TenantID, segmentID: String, audit: AuditContext) async throws -> SegmentRecord {
        try await store.setState(tenant: tenant, segmentID: segmentID, state: .paused, audit: audit)
    }

    public func resume(tenant: TenantID, segmentID: String, audit: AuditContext) async throws -> SegmentRecord {
        try await store.setState(tenant: tenant, segmentID: segmentID, state: .active, audit: audit)
    }

    public func pin(
        tenant: TenantID, segmentID: String, category: String, position: Int, note: String, curator: String, audit: AuditContext
    ) async throws -> SegmentRecord {
        try await store.curate(
            tenant: tenant, segmentID: segmentID, pin: true, category: category, position: position, note: note, curator: curator,
            audit: audit)
    }

    public func unpin(tenant: TenantID, segmentID: String, audit: AuditContext) async throws -> SegmentRecord {
        try await store.curate(tenant: tenant, segmentID: segmentID, pin: false, category: "", position: 0, note: "", curator: "", audit: audit)
    }

    /// Pinned segments in curation order.
    public func readyToUse(tenant: TenantID, category: String?) async throws -> [SegmentRecord] {
        try await store.listReadyToUse(tenant: tenant, category: category)
    }

    // MARK: Refresh, history, inspect

    /// Enqueues the segment's refresh (a pull or a training for those kinds); concurrent
    /// requests share the one pending job. A paused segment refuses (the store checks it
    /// in the transaction that enqueues).
    public func requestRefresh(tenant: TenantID, segmentID: String, creator: String, audit: AuditContext) async throws -> JobRecord {
        try await store.requestRefresh(tenant: tenant, segmentID: segmentID, creator: creator, audit: audit)
    }

    /// Enqueues refreshes of several segments together, evaluated at one instant (see
    /// ``SegmentStore/requestRefreshes(tenant:segmentIDs:creator:audit:)``).
    public func requestRefreshes(tenant: TenantID, segmentIDs: [String], creator: String, audit: AuditContext) async throws -> [JobRecord] {
        try await store.requestRefreshes(tenant: tenant, segmentIDs: segmentIDs, creator: creator, audit: audit)
    }

    /// A PULL connector's fetch, on demand.
    public func syncNow(tenant: TenantID, segmentID: String, creator: String, audit: AuditContext) async throws -> JobRecord {
        let segment = try await store.get(tenant: tenant, segmentID: segmentID, showDeleted: false)
        guard segment.definition.connector?.source == .pull else {
            throw DomainError(.failedPrecondition, "\(segment.name) is not a PULL connector segment: nothing to fetch")
        }
        return try await store.requestRefresh(tenant: tenant, segmentID: segmentID, creator: creator, audit: audit)
    }

    /// Size after each refresh, newest first.
    public func history(tenant: TenantID, segmentID: String, limit: Int) async throws -> [SizeHistoryPoint] {
        try await store.history(tenant: tenant, segmentID: segmentID, limit: limit)
    }

    /// A segment's membership at a glance: count, sample, a breakdown by an attribute
    /// (its most common values, or ranges for a number), the overlap with another
    /// segment, who entered and left, and its size history.
    public func inspect(
        tenant: TenantID, segmentID: String, sample: Int, attribute: String?, breakdownLimit: Int, buckets: Int = 0, other: String?
    ) async throws -> (segment: SegmentRecord, inspection: SegmentInspection, history: [SizeHistoryPoint]) {
        guard (0...1000).contains(sample) else { throw DomainError.invalid("sample_size", "1-1000 (0 means 10)") }
        guard (0...1000).contains(breakdownLimit) else { throw DomainError.invalid("breakdown_limit", "1-1000 (0 means 20)") }
        guard (0...100).contains(buckets) else { throw DomainError.invalid("breakdown_buckets", "1-100 (0 means 5)") }
        let segment = try await store.get(tenant: tenant, segmentID: segmentID, showDeleted: false)
        var breakdown: BreakdownRequest?
        if let attribute {
            let known = try await ruleStore.catalog(tenant: tenant).attributes
            guard let type = known[attribute] else {
                let hint = NameSuggestion.closest(to: attribute, among: known.keys).map { "; did you mean \($0)?" } ?? ""
                throw DomainError.invalid("breakdown_attribute", "no profile has the attribute \(attribute)\(hint)")
            }
            breakdown = BreakdownRequest(
                attribute: attribute, byRanges: type == .number, limit: breakdownLimit == 0 ? 20 : breakdownLimit, buckets: buckets == 0 ? 5 : buckets
            )
        }
        let inspection = try await membership.inspect(
            tenant: tenant, segmentID: segmentID, sample: sample == 0 ? 10 : sample, breakdown: breakdown, other: other)
        return (segment, inspection, try await history(tenant: tenant, segmentID: segmentID, limit: 30))
    }

    // MARK: Export

    /// Enqueues an export of the members with `attributes` as CSV or NDJSON.
    public func export(
        tenant: TenantID, segmentID: String, format: String, attributes: [String], creator: String, audit: AuditContext
    ) async throws -> JobRecord {
        let format = format.isEmpty ? "csv" : format.lowercased()
        guard format == "csv" || format == "ndjson" else { throw DomainError.invalid("format", "csv or ndjson") }
        guard attributes.count <= 100 else { throw DomainError.invalid("attributes", "at most 100") }
        for (index, attribute) in attributes.enumerated() where !IngestLimits.isValidName(attribute) {
            throw DomainError.invalid("attributes[\(index)]", "'\(attribute)' is not an attribute name")
        }
        return try await exports.request(
            tenant: tenant, segmentID: segmentID, format: format, attributes: attributes, creator: creator, audit: audit)
    }

    /// Reads a finished export's file from `offset` in chunks, passing each with its
    /// offset; the export's result (size, checksum) comes first.
    public func readExport(
        tenant: TenantID, exportID: String, name: String, offset: Int64,
        _ send: (_ result: ExportResult, _ data: Data, _ offset: Int64) async throws -> Void
    ) async throws {
        guard let jobID = Int64(exportID) else { throw DomainError.notFound(name) }
        let job: JobRecord
        do {
            job = try await jobs.get(tenant: tenant, jobID: jobID)
        } catch let error as DomainError where error.code == .notFound {
            throw DomainError.notFound(name)
        }
        guard job.kind == .export else { throw DomainError.notFound(name) }
        guard job.state == .succeeded, case .export(let result)? = job.result else {
            throw DomainError(
                .failedPrecondition, "\(name) is not ready: its operation is \(job.state.rawValue)", metadata: ["operation": job.name])
        }
        if let reason = result.expired {
            throw DomainError(.failedPrecondition, "\(name) has expired (\(reason)) and its file was deleted; export again")
        }
        let path = ExportHandler.path(directory: exportDirectory, tenant: tenant, fileName: result.file)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DomainError(.failedPrecondition, "\(name)'s file is gone from the export directory; export again")
        }
        defer { try? handle.close() }
        guard (0...result.bytes).contains(offset) else { throw DomainError.invalid("offset", "0-\(result.bytes)") }
        try handle.seek(toOffset: UInt64(offset))
        var position = offset
        repeat {
            let data = try handle.read(upToCount: 256 * 1024) ?? Data()
            try await send(result, data, position)
            position += Int64(data.count)
            if data.isEmpty { break }
        } while position < result.bytes
    }
}
