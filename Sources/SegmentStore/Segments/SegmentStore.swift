import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentRules

/// Segments: definitions with revisions, soft deletion, pause/resume and
/// ready-to-use curation. Every change is audited in its own transaction.
///
/// Rules arrive here already parsed, validated and printed canonically (the
/// server layer does that); the store checks what needs the database:
/// referenced segments exist and no reference cycle forms.
public struct SegmentStore: Sendable {
    let database: Database
    /// How long a deleted segment can be undeleted before it is purged.
    public let retention: TimeInterval
    let clock: @Sendable () -> Date
    /// What one tenant may hold and queue.
    let quotas: TenantQuotas

    public init(
        database: Database, retention: TimeInterval = 30 * 86_400, clock: @escaping @Sendable () -> Date = { Date() },
        quotas: TenantQuotas = TenantQuotas()
    ) {
        self.database = database
        self.retention = retention
        self.clock = clock
        self.quotas = quotas
    }

    /// Connector syncs over the same database and clock.
    public var connectors: ConnectorStore { ConnectorStore(database: database, clock: clock) }

    /// Segment ids: 1-63 of a-z, 0-9 and _, starting with a letter (they read like queries: `cart_abandoners_24h`).
    public static func isValidID(_ id: String) -> Bool {
        id.utf8.count <= 63 && IngestLimits.isValidName(id)
    }

    // MARK: Reading

    public func get(tenant: TenantID, segmentID: String, showDeleted: Bool = true) async throws -> SegmentRecord {
        try await database.withTenant(tenant) { connection in
            try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: database.logger, showDeleted: showDeleted)
        }
    }

    static func fetch(
        _ id: String, tenant: TenantID, on connection: PostgresConnection, logger: Logger, showDeleted: Bool = true, lock: Bool = false
    ) async throws -> SegmentRecord {
        let sql = "SELECT \(SegmentRecord.columns) FROM segments WHERE segment_id = $1" + (lock ? " FOR UPDATE" : "")
        var bindings = PostgresBindings()
        bindings.append(id)
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) {
            let record = try SegmentRecord.decode(row.makeRandomAccess())
            if record.deletedAt != nil && !showDeleted { break }
            return record
        }
        throw DomainError(.notFound, "tenants/\(tenant)/segments/\(id) not found")
    }

    /// Segments by id, `pageSize` at a time.
    public func list(tenant: TenantID, filter: SegmentFilter, pageSize: Int, pageToken: String?) async throws -> ([SegmentRecord], String?) {
        var after = ""
        if let pageToken {
            guard let parts = PageToken.decode(pageToken), parts.count == 1 else {
                throw DomainError.invalid("page_token", "not a token from this list")
            }
            after = parts[0]
        }
        return try await database.withTenant(tenant) { connection in
            var bindings = PostgresBindings()
            var conditions = ["segment_id > $1"]
            bindings.append(after)
            func add(_ condition: (String) -> String, _ value: String) {
                bindings.append(value)
                conditions.append(condition("$\(bindings.count)"))
            }
            if !filter.showDeleted { conditions.append("deleted_at IS NULL") }
            if let kind = filter.kind { add({ "kind = \($0)" }, kind.rawValue) }
            if let state = filter.state { add({ "state = \($0)" }, state.rawValue) }
            if filter.readyToUse { conditions.append("ready_to_use") }
            if let category = filter.category { add({ "category = \($0)" }, category) }
            if let text = filter.text, !text.isEmpty {
                add({ "strpos(lower(segment_id || ' ' || display_name || ' ' || description), lower(\($0))) > 0" }, text)
            }
            bindings.append(Int64(pageSize + 1))
            let sql =
                "SELECT \(SegmentRecord.columns) FROM segments WHERE \(conditions.joined(separator: " AND ")) ORDER BY segment_id LIMIT $\(bindings.count)"
            var records: [SegmentRecord] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: database.logger) {
                records.append(try SegmentRecord.decode(row.makeRandomAccess()))
            }
            let next = records.count > pageSize ? PageToken.encode([records[pageSize - 1].segmentID]) : nil
            return (Array(records.prefix(pageSize)), next)
        }
    }

    /// Ready-to-use segments in curated order (category, position, id).
    public func listReadyToUse(tenant: TenantID, category: String?) async throws -> [SegmentRecord] {
        try await database.withTenant(tenant) { connection in
            var records: [SegmentRecord] = []
            for try await row in try await connection.query(
                """
                SELECT \(unescaped: SegmentRecord.columns) FROM segments
                WHERE ready_to_use AND deleted_at IS NULL AND (\(category ?? "") = '' OR category = \(category ?? ""))
                ORDER BY category, position, segment_id
                """, logger: database.logger)
            {
                records.append(try SegmentRecord.decode(row.makeRandomAccess()))
            }
            return records
        }
    }

    // MARK: Definitions and revisions

    /// Locks the tenant's segment graph for the transaction and fails when
    /// `references` name a missing segment or would close a cycle through `segmentID`.
    static func checkReferences(
        _ references: [String], of segmentID: String, tenant: TenantID, on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !references.isEmpty else { return }
        try await connection.query("SELECT pg_advisory_xact_lock(hashtext('segment-graph:' || \(tenant.rawValue)))", logger: logger)
        var graph: [String: [String]] = [:]
        for try await (id, refs) in try await connection.query(
            "SELECT segment_id, refs FROM segments WHERE deleted_at IS NULL", logger: logger
        ).decode((String, [String]).self) {
            graph[id] = refs
        }
        for reference in references where reference != segmentID && graph[reference] == nil {
            throw DomainError.invalid("segment.rule", "segment \(reference) does not exist (or is deleted)")
        }
        graph[segmentID] = nil
        if let cycle = SegmentReferences.cycle(saving: segmentID, references: references, others: graph) {
            throw DomainError.invalid("segment.rule", "segments would reference each other in a cycle: \(cycle.joined(separator: " → "))")
        }
    }

    static func appendRevision(
        _ record: SegmentRecord, actor: String, changed: [String], on connection: PostgresConnection, logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO segment_revisions (tenant_id, segment_id, revision, actor, changed_fields, snapshot)
            VALUES (\(record.tenantID.rawValue), \(record.segmentID), \(record.revision), \(actor), \(changed), \(record.definition.jsonText)::jsonb)
            """, logger: logger)
    }

    /// Creates a segment (revision 1). A scheduled segment is due at once, so the
    /// scheduler's next pass gives it its first members; `refresh` enqueues that
    /// refresh in this transaction instead.
    public func create(
        tenant: TenantID, segmentID: String, kind: SegmentKind, definition: SegmentDefinition, references: [String],
        pullAuthHeader: String? = nil, refresh: Bool = false, actor: String, audit: AuditContext
    ) async throws -> SegmentChange {
        guard Self.isValidID(segmentID) else {
            throw DomainError.invalid("segment_id", "1-63 of a-z, 0-9 and _, starting with a letter (cart_abandoners_24h)")
        }
        try definition.validate(kind: kind)
        let now = clock()
        return try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)") { connection, auditRecord in
            let logger = database.logger
            try await Self.checkReferences(references, of: segmentID, tenant: tenant, on: connection, logger: logger)
            try await QuotaCheck.requireSegmentRoom(tenant, quotas: quotas, on: connection, logger: logger)
            do {
                try await connection.query(
                    """
                    INSERT INTO segments (tenant_id, segment_id, display_name, description, kind, rule_text, rule_ast, rule_description,
                                          config, refs, schedule, real_time, creator, created_at, updated_at, next_refresh_at)
                    VALUES (\(tenant.rawValue), \(segmentID), \(definition.displayName), \(definition.description), \(kind.rawValue),
                            \(definition.ruleText), \(definition.ruleASTJSON)::jsonb, \(definition.ruleDescription), \(definition.configJSON)::jsonb, \(references), \(definition.schedule.jsonText)::jsonb,
                            \(definition.realTime), \(actor), \(now), \(now), \(definition.schedule.cadence == .manual ? nil : now))
                    """, logger: logger)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                throw DomainError(
                    .alreadyExists, "tenants/\(tenant)/segments/\(segmentID) already exists (perhaps deleted: undelete it or pick another id)")
            }
            try await Self.storeAuthHeader(pullAuthHeader, segmentID: segmentID, tenant: tenant, on: connection, logger: logger)
            let record = try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger)
            let fields =
                kind == .ruleBased
                ? ["display_name", "description", "rule", "schedule"] + (definition.realTime ? ["real_time"] : [])
                : ["display_name", "description", kind == .connector ? "connector" : "predictive", "schedule"]
            try await Self.appendRevision(record, actor: actor, changed: fields, on: connection, logger: logger)
            auditRecord.after = record.auditFields
            guard refresh else { return SegmentChange(segment: record, refresh: nil) }
            let job = try await enqueueRefresh(of: record, creator: actor, on: connection, logger: logger).job
            auditRecord.after?["refresh_operation"] = .string(job.name)
            return SegmentChange(segment: record, refresh: job)
        }
    }

    /// Replaces the definition when `etag` matches; a real change makes a new revision.
    /// A change of the rule, connector or predictive settings leaves the members stale
    /// (`definition_revision`); such a change, or a new schedule, makes a scheduled
    /// segment due at once. `refresh` enqueues its refresh in this transaction (even
    /// when nothing changed).
    public func update(
        tenant: TenantID, segmentID: String, etag: Int64?, change: (inout SegmentDefinition) -> Void, references: [String]?,
        pullAuthHeader: String? = nil, refresh: Bool = false, actor: String, audit: AuditContext
    ) async throws -> SegmentChange {
        try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)") { connection, auditRecord in
            let record = try await Self.change(
                tenant: tenant, segmentID: segmentID, etag: etag, change: change, references: references, pullAuthHeader: pullAuthHeader,
                now: clock(), actor: actor, on: connection, auditRecord: &auditRecord, logger: database.logger)
            guard refresh else { return SegmentChange(segment: record, refresh: nil) }
            let job = try await enqueueRefresh(of: record, creator: actor, on: connection, logger: database.logger).job
            auditRecord.after?["refresh_operation"] = .string(job.name)
            return SegmentChange(segment: record, refresh: job)
        }
    }

    /// The body of `update`, in its transaction.
    static func change(
        tenant: TenantID, segmentID: String, etag: Int64?, change: (inout SegmentDefinition) -> Void, references: [String]?,
        pullAuthHeader: String?, now: Date, actor: String, on connection: PostgresConnection, auditRecord: inout AuditRecord,
        logger: Logger
    ) async throws -> SegmentRecord {
        let current = try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger, showDeleted: false, lock: true)
        if let etag, etag != current.etag {
            throw DomainError(
                .conflict, "tenants/\(tenant)/segments/\(segmentID) changed since it was read (etag \(etag), now \(current.etag)); get it again")
        }
        var definition = current.definition
        change(&definition)
        try definition.validate(kind: current.kind)
        let changed = definition.changedFields(from: current.definition)
        auditRecord.before = current.auditFields
        if let pullAuthHeader {
            guard definition.connector?.source == .pull else {
                throw DomainError.invalid("segment.connector.pull.auth_header", "only a PULL connector sends an auth header")
            }
            try await Self.storeAuthHeader(pullAuthHeader, segmentID: segmentID, tenant: tenant, on: connection, logger: logger)
            // The header is secret: the audit entry says only that it changed.
            auditRecord.after = ["auth_header_changed": .bool(true)]
        } else if let old = current.definition.connector?.pull, old.origin != definition.connector?.pull?.origin {
            // The header was given for the old origin: it is never sent anywhere else. A new one
            // for the new origin must come with the change.
            try await Self.storeAuthHeader("", segmentID: segmentID, tenant: tenant, on: connection, logger: logger)
            auditRecord.after = ["auth_header_dropped": .bool(true)]
        }
        guard !changed.isEmpty else {
            if pullAuthHeader != nil {
                try await connection.query(
                    "UPDATE segments SET etag = etag + 1, updated_at = \(now) WHERE segment_id = \(segmentID)", logger: logger)
                return try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger)
            }
            auditRecord.after = current.auditFields
            return current
        }
        let refs = references ?? current.references
        if references != nil { try await Self.checkReferences(refs, of: segmentID, tenant: tenant, on: connection, logger: logger) }
        let scheduleChanged = changed.contains("schedule")
        let membershipChanged = !SegmentDefinition.membershipFields.isDisjoint(with: changed)
        // A new definition or schedule is due at once (a manual schedule has no time).
        let rescheduled = scheduleChanged || (membershipChanged && definition.schedule.cadence != .manual)
        let nextRefresh = definition.schedule.cadence == .manual ? nil : now
        try await connection.query(
            """
            UPDATE segments SET display_name = \(definition.displayName), description = \(definition.description),
                rule_text = \(definition.ruleText), rule_ast = \(definition.ruleASTJSON)::jsonb,
                rule_description = \(definition.ruleDescription), refs = \(refs), schedule = \(definition.schedule.jsonText)::jsonb,
                real_time = \(definition.realTime), config = \(definition.configJSON)::jsonb,
                next_refresh_at = CASE WHEN \(rescheduled) THEN \(nextRefresh) ELSE next_refresh_at END,
                definition_revision = CASE WHEN \(membershipChanged) THEN revision + 1 ELSE definition_revision END,
                revision = revision + 1, etag = etag + 1, updated_at = \(now)
            WHERE segment_id = \(segmentID)
            """, logger: logger)
        if changed.contains("connector") {
            // Validators belong to the old source: the next pull of the new one fetches it whole.
            try await connection.query(
                "UPDATE connector_pull_state SET etag = NULL, last_modified = NULL WHERE segment_id = \(segmentID)", logger: logger)
        }
        let record = try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger)
        try await Self.appendRevision(record, actor: actor, changed: changed, on: connection, logger: logger)
        auditRecord.after = record.auditFields.merging(auditRecord.after ?? [:]) { current, _ in current }
        return record
    }

    /// Stores a pull source's `Authorization` header (nil: leave as is; empty: remove).
    static func storeAuthHeader(
        _ header: String?, segmentID: String, tenant: TenantID, on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard let header else { return }
        guard header.utf8.count <= 4096, !header.contains("\r"), !header.contains("\n") else {
            throw DomainError.invalid("segment.connector.pull.auth_header", "one line of at most 4096 bytes")
        }
        try await connection.query(
            """
            INSERT INTO connector_pull_state (tenant_id, segment_id, auth_header) VALUES (\(tenant.rawValue), \(segmentID), \(header.isEmpty ? nil : header))
            ON CONFLICT (tenant_id, segment_id) DO UPDATE SET auth_header = excluded.auth_header
            """, logger: logger)
    }

    /// Whether a pull source has a stored auth header (the header itself is never read back by the API).
    public func hasAuthHeader(tenant: TenantID, segmentID: String) async throws -> Bool {
        try await database.withTenant(tenant) { connection in
            for try await set in try await connection.query(
                "SELECT auth_header IS NOT NULL FROM connector_pull_state WHERE segment_id = \(segmentID)", logger: database.logger
            ).decode(Bool.self) { return set }
            return false
        }
    }

    /// The segment's revisions, newest first.
    public func revisions(tenant: TenantID, segmentID: String) async throws -> [SegmentRevisionRecord] {
        try await database.withTenant(tenant) { connection in
            _ = try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: database.logger)
            var revisions: [SegmentRevisionRecord] = []
            for try await (revision, created, actor, changed, snapshot) in try await connection.query(
                """
                SELECT revision, created_at, actor, changed_fields, snapshot::text FROM segment_revisions
                WHERE segment_id = \(segmentID) ORDER BY revision DESC
                """, logger: database.logger
            ).decode((Int64, Date, String, [String], String).self) {
                let definition = try JSONDecoder().decode(SegmentDefinition.self, from: Data(snapshot.utf8))
                revisions.append(
                    SegmentRevisionRecord(
                        segmentID: segmentID, revision: revision, createdAt: created, actor: actor, changedFields: changed, definition: definition))
            }
            return revisions
        }
    }

    // MARK: Lifecycle

    /// Soft-deletes: hidden from lists and refreshes, purged after the retention period.
    public func delete(tenant: TenantID, segmentID: String, etag: Int64?, audit: AuditContext) async throws -> SegmentRecord {
        try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)") { connection, auditRecord in
            let logger = database.logger
            let current = try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger, showDeleted: false, lock: true)
            if let etag, etag != current.etag {
                throw DomainError(.conflict, "tenants/\(tenant)/segments/\(segmentID) changed since it was read; get it again")
            }
            var dependents: [String] = []
            for try await id in try await connection.query(
                "SELECT segment_id FROM segments WHERE deleted_at IS NULL AND \(segmentID) = ANY(refs) ORDER BY 1", logger: logger
            ).decode(String.self) { dependents.append(id) }
            guard dependents.isEmpty else {
                throw DomainError(
                    .failedPrecondition, "segments \(dependents.joined(separator: ", ")) reference \(segmentID): change their rules first")
            }
            let now = clock()
            try await MemberSetCache.membershipWillChange(tenant: tenant, segment: segmentID, on: connection, logger: logger)
            try await connection.query(
                """
                UPDATE segments SET deleted_at = \(now), purge_at = \(now.addingTimeInterval(retention)), etag = etag + 1,
                    ready_to_use = false, updated_at = \(now)
                WHERE segment_id = \(segmentID)
                """, logger: logger)
            auditRecord.before = current.auditFields
            return try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger)
        }
    }

    public func undelete(tenant: TenantID, segmentID: String, audit: AuditContext) async throws -> SegmentRecord {
        try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)") { connection, auditRecord in
            let logger = database.logger
            let current = try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger, lock: true)
            guard current.deletedAt != nil else { throw DomainError(.failedPrecondition, "tenants/\(tenant)/segments/\(segmentID) is not deleted") }
            try await Self.checkReferences(current.references, of: segmentID, tenant: tenant, on: connection, logger: logger)
            try await MemberSetCache.membershipWillChange(tenant: tenant, segment: segmentID, on: connection, logger: logger)
            try await connection.query(
                "UPDATE segments SET deleted_at = NULL, purge_at = NULL, etag = etag + 1, updated_at = \(clock()) WHERE segment_id = \(segmentID)",
                logger: logger)
            let record = try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger)
            auditRecord.after = record.auditFields
            return record
        }
    }

    /// Pauses (keeps the last membership; schedules skip it) or resumes.
    public func setState(tenant: TenantID, segmentID: String, state: SegmentState, audit: AuditContext) async throws -> SegmentRecord {
        try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)") { connection, auditRecord in
            let logger = database.logger
            let current = try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger, showDeleted: false, lock: true)
            auditRecord.before = ["state": .string(current.state.rawValue)]
            guard current.state != state else { return current }
            let now = clock()
            try await connection.query(
                """
                UPDATE segments SET state = \(state.rawValue), etag = etag + 1, updated_at = \(now),
                    next_refresh_at = CASE WHEN \(state.rawValue) = 'active' THEN \(current.definition.schedule.next(after: now)) ELSE next_refresh_at END
                WHERE segment_id = \(segmentID)
                """, logger: logger)
            auditRecord.after = ["state": .string(state.rawValue)]
            return try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger)
        }
    }

    /// Pins (or re-pins) a segment as ready to use, or unpins it.
    /// Pins a segment on the ready-to-use shelf at `position` of `category` (1 is first;
    /// 0, or past the end, places it last), shifting the segments at and after that
    /// position down, or unpins it. Positions in a category always read 1…n without
    /// gaps. Unpinning a segment that is not pinned changes nothing (no new etag).
    public func curate(
        tenant: TenantID, segmentID: String, pin: Bool, category: String, position: Int, note: String, curator: String, audit: AuditContext
    ) async throws -> SegmentRecord {
        guard category.count <= 64, note.count <= 500 else {
            throw DomainError.invalid("category", "at most 64 characters; note: at most 500")
        }
        guard position >= 0 else { throw DomainError.invalid("position", "1 is first; 0 places the segment last") }
        if !pin {
            let current = try await get(tenant: tenant, segmentID: segmentID, showDeleted: false)
            if !current.curation.readyToUse { return current }
        }
        return try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)") { connection, auditRecord in
            let logger = database.logger
            let current = try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger, showDeleted: false, lock: true)
            auditRecord.before = [
                "ready_to_use": .bool(current.curation.readyToUse), "category": .string(current.curation.category),
                "position": .number(Double(current.curation.position)),
            ]
            // One curator at a time reorders the shelf.
            try await connection.query(
                "SELECT pg_advisory_xact_lock(hashtext('segmentd.shelf:' || \(tenant.rawValue)))", logger: logger)
            // Take it off its current shelf first, closing the gap it leaves.
            try await Self.renumberShelf(current.curation.category, excluding: segmentID, on: connection, logger: logger)
            var placed: Int32 = 0
            if pin {
                var others: Int32 = 0
                for try await count in try await connection.query(
                    """
                    SELECT count(*)::int4 FROM segments
                    WHERE ready_to_use AND deleted_at IS NULL AND category = \(category) AND segment_id <> \(segmentID)
                    """, logger: logger
                ).decode(Int32.self) { others = count }
                placed = position == 0 || position > Int(others) ? others + 1 : Int32(position)
                try await connection.query(
                    """
                    UPDATE segments SET position = position + 1
                    WHERE ready_to_use AND deleted_at IS NULL AND category = \(category) AND segment_id <> \(segmentID) AND position >= \(placed)
                    """, logger: logger)
            }
            try await connection.query(
                """
                UPDATE segments SET ready_to_use = \(pin), category = \(pin ? category : ""), position = \(placed),
                    curation_note = \(pin ? note : ""), curator = \(pin ? curator : ""), pinned_at = \(pin ? clock() : nil),
                    etag = etag + 1, updated_at = \(clock())
                WHERE segment_id = \(segmentID)
                """, logger: logger)
            let record = try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger)
            auditRecord.after = [
                "ready_to_use": .bool(pin), "category": .string(record.curation.category), "position": .number(Double(record.curation.position)),
                "note": .string(record.curation.note),
            ]
            return record
        }
    }
}

extension SegmentStore {
    /// Numbers the pinned segments of `category` 1…n in their order, leaving `excluded` out.
    static func renumberShelf(_ category: String, excluding excluded: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE segments s SET position = r.n
            FROM (SELECT segment_id, row_number() OVER (ORDER BY position, segment_id)::int4 AS n
                  FROM segments WHERE ready_to_use AND deleted_at IS NULL AND category = \(category) AND segment_id <> \(excluded)) r
            WHERE s.segment_id = r.segment_id AND s.position <> r.n
            """, logger: logger)
    }

    /// Enqueues a refresh for every active segment whose scheduled time has
    /// come, in every tenant, and moves each to its next scheduled time.
    /// Returns how many refreshes were enqueued.
    public func enqueueDueRefreshes() async throws -> Int {
        let now = clock()
        var enqueued = 0
        for tenant in try await activeTenants() {
            enqueued += try await database.withTenant(tenant) { connection in
                let logger = database.logger
                var due: [SegmentRecord] = []
                for try await row in try await connection.query(
                    """
                    SELECT \(unescaped: SegmentRecord.columns) FROM segments
                    WHERE state = 'active' AND deleted_at IS NULL AND next_refresh_at <= \(now)
                    FOR UPDATE SKIP LOCKED
                    """, logger: logger
                ) { due.append(try SegmentRecord.decode(row.makeRandomAccess())) }
                for segment in due {
                    let segmentID = segment.segmentID
                    let kind = JobKind.refreshing(segment.kind, segment.definition)
                    _ = try await JobQueue.enqueue(
                        tenant: tenant, kind: kind, target: segment.name,
                        // One tick's refreshes evaluate at its instant: one cut, shared conditions.
                        args: JobArguments(scheduled: true, evaluateAt: AudienceTime.microseconds(now)),
                        uniqueKey: "\(kind):\(segmentID)", runAt: now, creator: "scheduler", on: connection, logger: logger)
                    let next = segment.definition.schedule.next(after: now)
                    try await connection.query(
                        "UPDATE segments SET next_refresh_at = \(next) WHERE segment_id = \(segmentID)", logger: logger)
                }
                return due.count
            }
        }
        return enqueued
    }

    /// Forgets which transactions changed tenants' rule data more than a day ago
    /// (``AudienceChanges``): engine states that old are reloaded anyway.
    public func pruneAudienceChanges() async throws -> Int {
        try await AudienceChanges.prune(now: clock(), database: database)
    }

    /// Removes segments deleted longer ago than the retention period (with their
    /// members, revisions and history), each audited as done by `system`.
    /// Returns how many were purged.
    public func purgeExpired() async throws -> Int {
        let now = clock()
        var purged = 0
        for tenant in try await activeTenants() {
            let expired = try await database.withTenant(tenant) { connection in
                var ids: [String] = []
                for try await id in try await connection.query(
                    "SELECT segment_id FROM segments WHERE purge_at <= \(now) ORDER BY 1", logger: database.logger
                ).decode(String.self) { ids.append(id) }
                return ids
            }
            for segmentID in expired {
                let audit = AuditContext(
                    tenant: tenant, actor: AuditActor(name: "system"), action: "segmentd.system/PurgeSegment", resultCode: { _ in "INTERNAL" })
                try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)") { connection, record in
                    try await MemberSetCache.membershipWillChange(tenant: tenant, segment: segmentID, on: connection, logger: database.logger)
                    try await connection.query("DELETE FROM segment_members WHERE segment_id = \(segmentID)", logger: database.logger)
                    try await connection.query(
                        "DELETE FROM segments WHERE segment_id = \(segmentID) AND purge_at <= \(now)", logger: database.logger)
                    // After the segment row: a writer holding its lock has committed by now (migration 16).
                    try await connection.query(
                        """
                        DELETE FROM membership_changes WHERE segment_id = \(segmentID)
                        AND NOT EXISTS (SELECT 1 FROM segments WHERE segment_id = \(segmentID))
                        """, logger: database.logger)
                    // Its export files go too (the sweeper deletes them).
                    let exports = try await ExportStore.expireAll(
                        reason: "its segment was purged", target: ResourceName.segmentName(tenant, segmentID), on: connection,
                        logger: database.logger)
                    record.before = ["purged": .bool(true), "export_files": .number(Double(exports))]
                }
                purged += 1
            }
        }
        return purged
    }

    /// Tenants that are not disabled (read in the platform context).
    /// Rule-based segments saved before their rule's AST and restatement were kept, in every tenant.
    public func segmentsMissingRuleForms() async throws -> [(tenant: TenantID, segmentID: String, ruleText: String)] {
        var missing: [(tenant: TenantID, segmentID: String, ruleText: String)] = []
        for tenant in try await activeTenants() {
            try await database.withTenant(tenant) { connection in
                for try await (id, text) in try await connection.query(
                    "SELECT segment_id, rule_text FROM segments WHERE rule_text IS NOT NULL AND rule_ast IS NULL", logger: database.logger
                ).decode((String, String).self) {
                    missing.append((tenant, id, text))
                }
            }
        }
        return missing
    }

    /// Saves a rule's AST and restatement beside its text (only while the text is unchanged).
    public func saveRuleForms(tenant: TenantID, segmentID: String, definition: SegmentDefinition) async throws {
        try await database.withTenant(tenant) { connection in
            try await connection.query(
                """
                UPDATE segments SET rule_ast = \(definition.ruleASTJSON)::jsonb, rule_description = \(definition.ruleDescription)
                WHERE segment_id = \(segmentID) AND rule_text = \(definition.ruleText)
                """, logger: database.logger)
        }
    }

    func activeTenants() async throws -> [TenantID] {
        try await database.withTenant(.platform) { connection in
            var ids: [TenantID] = []
            for try await id in try await connection.query(
                "SELECT tenant_id FROM tenants WHERE NOT is_platform AND state = 'active' ORDER BY 1", logger: database.logger
            ).decode(String.self) {
                if let tenant = TenantID(id) { ids.append(tenant) }
            }
            return ids
        }
    }

    /// Enqueues a refresh requested by a caller: one pending job per segment,
    /// FAILED_PRECONDITION for a paused or archived segment.
    public func requestRefresh(tenant: TenantID, segmentID: String, creator: String, audit: AuditContext) async throws -> JobRecord {
        let now = clock()
        return try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)") { connection, record in
            let logger = database.logger
            let segment = try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger, showDeleted: false)
            let (job, created) = try await enqueueRefresh(of: segment, creator: creator, runAt: now, on: connection, logger: logger)
            record.after = ["operation": .string(job.name), "new": .bool(created)]
            return job
        }
    }

    /// Refreshes asked for together, at most this many.
    public static let maxBatchRefresh = 1000

    /// Enqueues refreshes of several segments in one transaction, all evaluated at
    /// one instant (``JobArguments/evaluateAt``), each joining its segment's pending
    /// job as ``requestRefresh(tenant:segmentID:creator:audit:)`` does. All or nothing: a
    /// segment missing, paused or archived refuses the batch.
    public func requestRefreshes(tenant: TenantID, segmentIDs: [String], creator: String, audit: AuditContext) async throws -> [JobRecord] {
        guard !segmentIDs.isEmpty else { throw DomainError.invalid("names", "name at least one segment") }
        guard segmentIDs.count <= Self.maxBatchRefresh else {
            throw DomainError(
                .limitExceeded, "\(segmentIDs.count) segments; at most \(Self.maxBatchRefresh) per call",
                violations: [.init(field: "names", problem: "split the batch")])
        }
        if let repeated = Dictionary(grouping: segmentIDs, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw DomainError.invalid("names", "\(repeated) is named twice")
        }
        let now = clock()
        let args = JobArguments(evaluateAt: AudienceTime.microseconds(now))
        return try await database.audited(audit, resource: "tenants/\(tenant)/segments") { connection, record in
            let logger = database.logger
            var jobs: [JobRecord] = []
            var created = 0
            for segmentID in segmentIDs {
                let segment = try await Self.fetch(segmentID, tenant: tenant, on: connection, logger: logger, showDeleted: false)
                let (job, new) = try await enqueueRefresh(of: segment, creator: creator, runAt: now, args: args, on: connection, logger: logger)
                jobs.append(job)
                if new { created += 1 }
            }
            record.after = ["operations": .strings(jobs.map(\.name)), "new": .number(Double(created))]
            return jobs
        }
    }

    /// Enqueues a caller's refresh of `segment` (a sync or a training for those kinds)
    /// in the caller's transaction, joining a pending one; refuses a paused or archived
    /// segment and a tenant whose job queue is full.
    func enqueueRefresh(
        of segment: SegmentRecord, creator: String, runAt: Date? = nil, args: JobArguments = JobArguments(), on connection: PostgresConnection,
        logger: Logger
    ) async throws -> (job: JobRecord, created: Bool) {
        let kind = JobKind.refreshing(segment.kind, segment.definition)
        try segment.requireActive(to: kind == .train ? "train it" : kind == .sync ? "sync it" : "refresh it")
        let uniqueKey = "\(kind):\(segment.segmentID)"
        try await QuotaCheck.requireJobRoom(segment.tenantID, uniqueKey: uniqueKey, quotas: quotas, on: connection, logger: logger)
        return try await JobQueue.enqueue(
            tenant: segment.tenantID, kind: kind, target: segment.name, args: args, uniqueKey: uniqueKey, runAt: runAt ?? clock(),
            creator: creator, on: connection, logger: logger)
    }
}
