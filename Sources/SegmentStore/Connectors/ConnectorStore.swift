import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// Connector segments' membership from outside: pushed add/remove batches,
/// full-replace sessions, file imports and pulls. The connector's ids are kept
/// as sent (`connector_members`); membership is the ids that match known
/// users, written through `MembershipWriter`. Every sync carries the external
/// tool's sync id: a retry returns the first result and changes nothing.
public struct ConnectorStore: Sendable {
    let database: Database
    let clock: @Sendable () -> Date

    /// Ids per pushed batch or chunk.
    public static let maxIDsPerBatch = 10_000
    /// How long an open replace session waits for its commit.
    public static let sessionLifetime: TimeInterval = 24 * 3600

    public init(database: Database, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.clock = clock
    }

    /// The members of a connector segment: its ids that match known users ($1 tenant, $2 segment).
    static let matchedMembersSQL = """
        SELECT u.user_index FROM connector_members c
        JOIN users u ON u.tenant_id = c.tenant_id AND u.external_id = c.external_id
        WHERE c.tenant_id = $1 AND c.segment_id = $2
        """

    static func connectorCount(segmentID: String, on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        for try await count in try await connection.query(
            "SELECT count(*)::int8 FROM connector_members WHERE segment_id = \(segmentID)", logger: logger
        ).decode(Int64.self) { return count }
        return 0
    }

    /// Checks ids: 1-200 bytes each, at most `maxIDsPerBatch`.
    public static func validate(_ ids: [String], field: String = "user_ids") throws {
        guard ids.count <= maxIDsPerBatch else {
            throw DomainError.invalid(field, "at most \(maxIDsPerBatch) ids per batch, got \(ids.count)")
        }
        for (index, id) in ids.enumerated() where id.isEmpty || id.utf8.count > 200 {
            throw DomainError.invalid("\(field)[\(index)]", "a user id is 1-200 bytes")
        }
    }

    static func validateSyncID(_ syncID: String) throws {
        guard (1...200).contains(syncID.utf8.count) else {
            throw DomainError.invalid("sync_id", "the external tool's id for this sync, 1-200 bytes (a retry with the same id changes nothing)")
        }
    }

    /// The connector segment, locked for the sync; FAILED_PRECONDITION unless it is an active push/file connector (or `allowPull`).
    static func lockConnector(
        _ segmentID: String, tenant: TenantID, allowPull: Bool = false, on connection: PostgresConnection, logger: Logger
    ) async throws -> SegmentRecord {
        let segment = try await SegmentStore.fetch(segmentID, tenant: tenant, on: connection, logger: logger, showDeleted: false, lock: true)
        guard segment.kind == .connector, let connector = segment.definition.connector else {
            throw DomainError(
                .failedPrecondition,
                "\(segment.name) is a \(segment.kind.rawValue.replacingOccurrences(of: "_", with: "-")) segment, not a connector segment")
        }
        guard connector.source != .pull || allowPull else {
            throw DomainError(
                .failedPrecondition, "\(segment.name) pulls its members from a URL; push or import into a PUSH or FILE connector (or call SyncNow)")
        }
        try segment.requireActive(to: "sync it")
        return segment
    }

    static func storedResult(segmentID: String, syncID: String, on connection: PostgresConnection, logger: Logger) async throws
        -> ConnectorSyncResult?
    {
        for try await text in try await connection.query(
            "SELECT result::text FROM connector_syncs WHERE segment_id = \(segmentID) AND sync_id = \(syncID)", logger: logger
        ).decode(String.self) {
            return try JSONDecoder().decode(ConnectorSyncResult.self, from: Data(text.utf8))
        }
        return nil
    }

    static func recordSync(
        _ result: ConnectorSyncResult, operation: String, tenant: TenantID, segmentID: String, syncID: String, now: Date,
        on connection: PostgresConnection, logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO connector_syncs (tenant_id, segment_id, sync_id, operation, result, created_at)
            VALUES (\(tenant.rawValue), \(segmentID), \(syncID), \(operation), \(result.sortedJSON)::jsonb, \(now))
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    /// Counts `ids` matching known users and samples those that do not.
    static func matching(_ ids: [String], on connection: PostgresConnection, logger: Logger) async throws -> (
        matched: Int64, unmatched: Int64, sample: [String]
    ) {
        var matched: Int64 = 0
        var unmatched: Int64 = 0
        var sample: [String] = []
        for try await (id, known) in try await connection.query(
            """
            SELECT x.id, u.user_index IS NOT NULL FROM unnest(\(ids)::text[]) AS x(id)
            LEFT JOIN users u ON u.external_id = x.id ORDER BY x.id
            """, logger: logger
        ).decode((String, Bool).self) {
            if known {
                matched += 1
            } else {
                unmatched += 1
                if sample.count < ConnectorSyncResult.sampleSize { sample.append(id) }
            }
        }
        return (matched, unmatched, sample)
    }

    // MARK: Add and remove

    /// Adds or removes a batch of ids, once per sync id.
    public func change(
        _ change: ConnectorChange, tenant: TenantID, segmentID: String, syncID: String, ids: [String], audit: AuditContext
    ) async throws -> ConnectorSyncResult {
        try Self.validateSyncID(syncID)
        try Self.validate(ids)
        let ids = Array(Set(ids)).sorted()
        let started = ContinuousClock.now
        let now = clock()
        return try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)") { connection, auditRecord in
            let logger = database.logger
            try await MembershipWriteLock.shared(tenant, on: connection, logger: logger)
            let segment = try await Self.lockConnector(segmentID, tenant: tenant, on: connection, logger: logger)
            auditRecord.before = ["sync_id": .string(syncID), "ids": .number(Double(ids.count))]
            if let stored = try await Self.storedResult(segmentID: segmentID, syncID: syncID, on: connection, logger: logger) {
                auditRecord.after = ["replayed": .bool(true)]
                return stored
            }
            switch change {
            case .add:
                try await connection.query(
                    """
                    INSERT INTO connector_members (tenant_id, segment_id, external_id)
                    SELECT \(tenant.rawValue), \(segmentID), x FROM unnest(\(ids)::text[]) AS x ON CONFLICT DO NOTHING
                    """, logger: logger)
            case .remove:
                try await connection.query(
                    "DELETE FROM connector_members WHERE segment_id = \(segmentID) AND external_id = ANY(\(ids)::text[])", logger: logger)
            }
            let (matched, unmatched, sample) = try await Self.matching(ids, on: connection, logger: logger)
            var bindings = PostgresBindings()
            bindings.append(tenant.rawValue)
            bindings.append(ids)
            let users = "SELECT u.user_index FROM users u WHERE u.tenant_id = $1 AND u.external_id = ANY($2::text[])"
            let written = try await MembershipWriter.change(
                segmentID: segmentID, tenant: tenant, adding: change == .add ? users : nil, removing: change == .remove ? users : nil,
                bindings: bindings, now: now, jobID: 0, cause: .sync, on: connection, logger: logger)
            let connectorCount = try await Self.connectorCount(segmentID: segmentID, on: connection, logger: logger)
            try await MembershipWriter.record(
                written, segment: segment, now: now, durationMilliseconds: MembershipWriter.milliseconds(since: started), jobID: nil,
                scheduled: false, connectorCount: connectorCount, matchedCount: written.size, creator: audit.actor.name, on: connection,
                logger: logger)
            let result = ConnectorSyncResult(
                connectorCount: Int64(ids.count), matchedCount: matched, unmatchedCount: unmatched, unmatchedSample: sample,
                size: written.size, entered: written.entered, exited: written.exited)
            try await Self.recordSync(
                result, operation: change.rawValue, tenant: tenant, segmentID: segmentID, syncID: syncID, now: now, on: connection, logger: logger)
            auditRecord.after = result.auditFields
            return result
        }
    }

    // MARK: Sessions

    static let sessionColumns = "tenant_id, session_id, segment_id, sync_id, mode, state, staged, expires_at"

    static func decodeSession(_ row: PostgresRow, now: Date) throws -> ReplaceSessionRecord {
        let (tenant, id, segment, sync, mode, state, staged, expires) = try row.decode(
            (String, Int64, String, String, String, String, Int64, Date).self)
        var resolved = ReplaceSessionRecord.State(rawValue: state) ?? .aborted
        if resolved == .open && expires <= now { resolved = .aborted }
        return ReplaceSessionRecord(
            tenantID: TenantID(tenant)!, sessionID: id, segmentID: segment, syncID: sync, mode: ReplaceSessionRecord.Mode(rawValue: mode) ?? .replace,
            state: resolved, staged: staged, expiresAt: expires)
    }

    static func fetchSession(
        _ sessionID: Int64, segmentID: String, tenant: TenantID, now: Date, lock: Bool, on connection: PostgresConnection, logger: Logger
    ) async throws -> ReplaceSessionRecord {
        let sql = "SELECT \(sessionColumns) FROM replace_sessions WHERE session_id = $1 AND segment_id = $2" + (lock ? " FOR UPDATE" : "")
        var bindings = PostgresBindings()
        bindings.append(sessionID)
        bindings.append(segmentID)
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) {
            return try decodeSession(row, now: now)
        }
        throw DomainError(.notFound, "tenants/\(tenant)/segments/\(segmentID)/replaceSessions/\(sessionID) not found")
    }

    /// Opens a session for `syncID`, or returns the one already opened (or
    /// committed) with it; an aborted or expired one is opened afresh, empty.
    public func begin(
        tenant: TenantID, segmentID: String, syncID: String, mode: ReplaceSessionRecord.Mode, creator: String, audit: AuditContext,
        allowPull: Bool = false
    ) async throws -> ReplaceSessionRecord {
        try Self.validateSyncID(syncID)
        let now = clock()
        return try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)") { connection, auditRecord in
            let logger = database.logger
            _ = try await Self.lockConnector(segmentID, tenant: tenant, allowPull: allowPull, on: connection, logger: logger)
            auditRecord.after = ["sync_id": .string(syncID), "mode": .string(mode.rawValue)]
            var existing: ReplaceSessionRecord?
            for try await row in try await connection.query(
                "SELECT \(unescaped: Self.sessionColumns) FROM replace_sessions WHERE segment_id = \(segmentID) AND sync_id = \(syncID) FOR UPDATE",
                logger: logger)
            { existing = try Self.decodeSession(row, now: now) }
            if let existing {
                auditRecord.resource = existing.name
                if existing.state != .aborted { return existing }
                try await connection.query("DELETE FROM replace_staging WHERE session_id = \(existing.sessionID)", logger: logger)
                try await connection.query("DELETE FROM replace_chunks WHERE session_id = \(existing.sessionID)", logger: logger)
                try await connection.query(
                    """
                    UPDATE replace_sessions SET state = 'open', staged = 0, mode = \(mode.rawValue), created_at = \(now),
                        expires_at = \(now.addingTimeInterval(Self.sessionLifetime))
                    WHERE session_id = \(existing.sessionID)
                    """, logger: logger)
                return try await Self.fetchSession(
                    existing.sessionID, segmentID: segmentID, tenant: tenant, now: now, lock: false, on: connection, logger: logger)
            }
            for try await row in try await connection.query(
                """
                INSERT INTO replace_sessions (tenant_id, segment_id, sync_id, mode, creator, created_at, expires_at)
                VALUES (\(tenant.rawValue), \(segmentID), \(syncID), \(mode.rawValue), \(creator), \(now), \(now.addingTimeInterval(Self.sessionLifetime)))
                RETURNING \(unescaped: Self.sessionColumns)
                """, logger: logger)
            {
                let session = try Self.decodeSession(row, now: now)
                auditRecord.resource = session.name
                return session
            }
            throw DomainError(.internalError, "the session was not created")
        }
    }

    /// Stages a chunk of ids (in a transaction of its own; nothing visible
    /// changes). A chunk whose `sequence` was staged before is ignored.
    public func stage(tenant: TenantID, segmentID: String, sessionID: Int64, sequence: Int64?, ids: [String]) async throws -> ReplaceSessionRecord {
        try Self.validate(ids)
        let now = clock()
        return try await database.withTenant(tenant) { connection in
            let logger = database.logger
            let session = try await Self.fetchSession(
                sessionID, segmentID: segmentID, tenant: tenant, now: now, lock: true, on: connection, logger: logger)
            guard session.state == .open else {
                throw DomainError(
                    .failedPrecondition,
                    "\(session.name) is \(session.state.rawValue)\(session.expiresAt <= now ? " (expired)" : ""): begin a new session")
            }
            if let sequence {
                var fresh = false
                for try await _ in try await connection.query(
                    """
                    INSERT INTO replace_chunks (tenant_id, session_id, sequence) VALUES (\(tenant.rawValue), \(sessionID), \(sequence))
                    ON CONFLICT DO NOTHING RETURNING 1
                    """, logger: logger)
                { fresh = true }
                guard fresh else { return session }
            }
            var added: Int64 = 0
            for try await count in try await connection.query(
                """
                WITH added AS (
                    INSERT INTO replace_staging (tenant_id, session_id, external_id)
                    SELECT \(tenant.rawValue), \(sessionID), x FROM unnest(\(ids)::text[]) AS x ON CONFLICT DO NOTHING RETURNING 1
                )
                SELECT count(*)::int8 FROM added
                """, logger: logger
            ).decode(Int64.self) { added = count }
            try await connection.query("UPDATE replace_sessions SET staged = staged + \(added) WHERE session_id = \(sessionID)", logger: logger)
            return try await Self.fetchSession(sessionID, segmentID: segmentID, tenant: tenant, now: now, lock: false, on: connection, logger: logger)
        }
    }

    /// One audit entry for a stream of staged chunks.
    public func auditStaging(_ session: ReplaceSessionRecord, chunks: Int, audit: AuditContext) async throws {
        try await database.audited(audit, resource: session.name) { _, record in
            record.after = ["chunks": .number(Double(chunks)), "staged": .number(Double(session.staged))]
        }
    }

    public func session(tenant: TenantID, segmentID: String, sessionID: Int64) async throws -> ReplaceSessionRecord {
        let now = clock()
        return try await database.withTenant(tenant) { connection in
            try await Self.fetchSession(
                sessionID, segmentID: segmentID, tenant: tenant, now: now, lock: false, on: connection, logger: database.logger)
        }
    }

    /// Applies a session's staged ids (replacing the connector's ids, or adding
    /// to them) and swaps the membership in atomically. `operation` names the
    /// sync (`replace`, `import`, `pull`); a pull's job is completed (and its
    /// source's validators kept) in the same transaction.
    public func commit(
        tenant: TenantID, segmentID: String, sessionID: Int64, operation: String, audit: AuditContext, allowPull: Bool = false,
        jobID: Int64? = nil, scheduled: Bool = false, pull: PullCompletion? = nil
    ) async throws -> ConnectorSyncResult {
        let started = ContinuousClock.now
        let now = clock()
        return try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)/replaceSessions/\(sessionID)") {
            connection, auditRecord in
            let logger = database.logger
            try await MembershipWriteLock.shared(tenant, on: connection, logger: logger)
            let segment = try await Self.lockConnector(segmentID, tenant: tenant, allowPull: allowPull, on: connection, logger: logger)
            let session = try await Self.fetchSession(
                sessionID, segmentID: segmentID, tenant: tenant, now: now, lock: true, on: connection, logger: logger)
            // A sync id already applied (by this session, or by another call with the same id) stands.
            if session.state != .aborted,
                let stored = try await Self.storedResult(segmentID: segmentID, syncID: session.syncID, on: connection, logger: logger)
            {
                if session.state == .open {
                    try await connection.query("DELETE FROM replace_staging WHERE session_id = \(sessionID)", logger: logger)
                    try await connection.query("UPDATE replace_sessions SET state = 'committed' WHERE session_id = \(sessionID)", logger: logger)
                }
                auditRecord.after = ["replayed": .bool(true)]
                return stored
            }
            guard session.state == .open else {
                throw DomainError(
                    .failedPrecondition,
                    "\(session.name) is \(session.state.rawValue)\(session.expiresAt <= now ? " (expired)" : ""): nothing was changed; begin a new session"
                )
            }
            var matched: Int64 = 0
            var unmatched: Int64 = 0
            var sample: [String] = []
            for try await (known, unknown) in try await connection.query(
                """
                SELECT count(u.user_index)::int8, count(*) FILTER (WHERE u.user_index IS NULL)::int8 FROM replace_staging s
                LEFT JOIN users u ON u.external_id = s.external_id WHERE s.session_id = \(sessionID)
                """, logger: logger
            ).decode((Int64, Int64).self) {
                matched = known
                unmatched = unknown
            }
            for try await id in try await connection.query(
                """
                SELECT s.external_id FROM replace_staging s
                WHERE s.session_id = \(sessionID) AND NOT EXISTS (SELECT 1 FROM users u WHERE u.external_id = s.external_id)
                ORDER BY 1 LIMIT \(Int64(pull == nil ? ConnectorSyncResult.sampleSize : 100))
                """, logger: logger
            ).decode(String.self) { sample.append(id) }
            if pull != nil { sample = ConnectorSyncResult.pulledSample(sample, matched: matched, unmatched: unmatched) }
            var bindings = PostgresBindings()
            bindings.append(tenant.rawValue)
            bindings.append(segmentID)
            let written: MembershipWriter.Change
            switch session.mode {
            case .replace:
                try await connection.query(
                    """
                    DELETE FROM connector_members c WHERE c.segment_id = \(segmentID)
                    AND NOT EXISTS (SELECT 1 FROM replace_staging s WHERE s.session_id = \(sessionID) AND s.external_id = c.external_id)
                    """, logger: logger)
                try await connection.query(
                    """
                    INSERT INTO connector_members (tenant_id, segment_id, external_id)
                    SELECT \(tenant.rawValue), \(segmentID), external_id FROM replace_staging WHERE session_id = \(sessionID) ON CONFLICT DO NOTHING
                    """, logger: logger)
                written = try await MembershipWriter.replace(
                    segmentID: segmentID, tenant: tenant, with: Self.matchedMembersSQL, bindings: bindings, now: now, jobID: jobID ?? 0,
                    cause: .sync, on: connection, logger: logger)
            case .add:
                try await connection.query(
                    """
                    INSERT INTO connector_members (tenant_id, segment_id, external_id)
                    SELECT \(tenant.rawValue), \(segmentID), external_id FROM replace_staging WHERE session_id = \(sessionID) ON CONFLICT DO NOTHING
                    """, logger: logger)
                bindings.append(sessionID)
                written = try await MembershipWriter.change(
                    segmentID: segmentID, tenant: tenant,
                    adding:
                        "SELECT u.user_index FROM replace_staging s JOIN users u ON u.tenant_id = s.tenant_id AND u.external_id = s.external_id WHERE s.tenant_id = $1 AND s.session_id = $3",
                    removing: nil, bindings: bindings, now: now, jobID: jobID ?? 0, cause: .sync, on: connection, logger: logger)
            }
            let connectorCount = try await Self.connectorCount(segmentID: segmentID, on: connection, logger: logger)
            let result = ConnectorSyncResult(
                connectorCount: matched + unmatched, matchedCount: matched, unmatchedCount: unmatched, unmatchedSample: sample,
                size: written.size, entered: written.entered, exited: written.exited)
            if let pull {
                try await Self.storeValidators(
                    tenant: tenant, segmentID: segmentID, etag: pull.etag, lastModified: pull.lastModified, on: connection, logger: logger)
                let jobResult = JobResult.sync(SyncResult(sync: result, bytes: pull.bytes, worker: pull.worker))
                try await JobQueue.complete(pull.job, worker: pull.worker, result: jobResult, now: now, on: connection, logger: logger)
            }
            try await MembershipWriter.record(
                written, segment: segment, now: now, durationMilliseconds: MembershipWriter.milliseconds(since: started),
                jobID: jobID, scheduled: scheduled, connectorCount: connectorCount, matchedCount: written.size,
                creator: audit.actor.name, on: connection, logger: logger)
            try await connection.query("DELETE FROM replace_staging WHERE session_id = \(sessionID)", logger: logger)
            try await connection.query("DELETE FROM replace_chunks WHERE session_id = \(sessionID)", logger: logger)
            try await connection.query("UPDATE replace_sessions SET state = 'committed' WHERE session_id = \(sessionID)", logger: logger)
            try await Self.recordSync(
                result, operation: operation, tenant: tenant, segmentID: segmentID, syncID: session.syncID, now: now, on: connection, logger: logger)
            auditRecord.after = result.auditFields.merging(["sync_id": .string(session.syncID), "operation": .string(operation)]) { a, _ in a }
            return result
        }
    }

    /// Abandons an open session: its staged ids are dropped and nothing changes.
    public func abort(tenant: TenantID, segmentID: String, sessionID: Int64, audit: AuditContext) async throws -> ReplaceSessionRecord {
        let now = clock()
        return try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)/replaceSessions/\(sessionID)") {
            connection, auditRecord in
            let logger = database.logger
            let session = try await Self.fetchSession(
                sessionID, segmentID: segmentID, tenant: tenant, now: now, lock: true, on: connection, logger: logger)
            guard session.state != .committed else {
                throw DomainError(.failedPrecondition, "\(session.name) is committed: its ids are the membership now")
            }
            try await connection.query("DELETE FROM replace_staging WHERE session_id = \(sessionID)", logger: logger)
            try await connection.query("DELETE FROM replace_chunks WHERE session_id = \(sessionID)", logger: logger)
            try await connection.query("UPDATE replace_sessions SET state = 'aborted', staged = 0 WHERE session_id = \(sessionID)", logger: logger)
            auditRecord.after = ["state": .string("aborted")]
            return try await Self.fetchSession(sessionID, segmentID: segmentID, tenant: tenant, now: now, lock: false, on: connection, logger: logger)
        }
    }

    /// Drops the staged ids of sessions left open past their expiry, in every
    /// tenant (the scheduler calls it). Returns how many sessions it closed.
    public func abortExpiredSessions() async throws -> Int {
        let now = clock()
        var closed = 0
        for tenant in try await SegmentStore(database: database).activeTenants() {
            closed += try await database.withTenant(tenant) { connection in
                var ids: [Int64] = []
                for try await id in try await connection.query(
                    "UPDATE replace_sessions SET state = 'aborted', staged = 0 WHERE state = 'open' AND expires_at <= \(now) RETURNING session_id",
                    logger: database.logger
                ).decode(Int64.self) { ids.append(id) }
                if !ids.isEmpty {
                    try await connection.query("DELETE FROM replace_staging WHERE session_id = ANY(\(ids)::int8[])", logger: database.logger)
                    try await connection.query("DELETE FROM replace_chunks WHERE session_id = ANY(\(ids)::int8[])", logger: database.logger)
                }
                return ids.count
            }
        }
        return closed
    }
}

// MARK: Pulls

extension ConnectorStore {
    /// What a pull needs: the source, its secret header and the validators of the last fetch.
    public struct PullSource: Sendable {
        public var segment: SegmentRecord
        public var settings: PullSettings
        /// Sent as `Authorization`; never logged or returned.
        public var authHeader: String?
        public var etag: String?
        public var lastModified: String?
    }

    /// The pull source of a PULL connector (nil when the segment is not one, or is deleted).
    public func pullSource(tenant: TenantID, segmentID: String) async throws -> PullSource? {
        try await database.withTenant(tenant) { connection in
            let logger = database.logger
            let segment = try await SegmentStore.fetch(segmentID, tenant: tenant, on: connection, logger: logger)
            guard segment.deletedAt == nil, let settings = segment.definition.connector?.pull else { return nil }
            var source = PullSource(segment: segment, settings: settings)
            for try await (header, etag, modified) in try await connection.query(
                "SELECT auth_header, etag, last_modified FROM connector_pull_state WHERE segment_id = \(segmentID)", logger: logger
            ).decode((String?, String?, String?).self) {
                source.authHeader = header
                source.etag = etag
                source.lastModified = modified
            }
            return source
        }
    }

    /// A pull's job, finished in the transaction that commits what it fetched.
    public struct PullCompletion: Sendable {
        public var job: JobRecord
        public var worker: String
        /// The source's validators, for the next conditional request.
        public var etag: String?
        public var lastModified: String?
        public var bytes: Int64

        public init(job: JobRecord, worker: String, etag: String?, lastModified: String?, bytes: Int64) {
            self.job = job
            self.worker = worker
            self.etag = etag
            self.lastModified = lastModified
            self.bytes = bytes
        }
    }

    /// Stores the validators of a fetched file (inside the commit's transaction).
    static func storeValidators(
        tenant: TenantID, segmentID: String, etag: String?, lastModified: String?, on connection: PostgresConnection, logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO connector_pull_state (tenant_id, segment_id, etag, last_modified) VALUES (\(tenant.rawValue), \(segmentID), \(etag), \(lastModified))
            ON CONFLICT (tenant_id, segment_id) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified
            """, logger: logger)
    }

    /// Finishes a pull answered 304 Not Modified: the job succeeds, the segment shows the sync, membership is unchanged.
    public func finishNotModified(_ job: JobRecord, worker: String) async throws -> ConnectorSyncResult {
        let segmentID = job.segmentID
        let now = clock()
        return try await database.withTenant(job.tenantID) { connection in
            let logger = database.logger
            let segment = try await SegmentStore.fetch(segmentID, tenant: job.tenantID, on: connection, logger: logger, lock: true)
            let result = ConnectorSyncResult(
                connectorCount: segment.lastRefresh?.connectorCount ?? 0, matchedCount: segment.lastRefresh?.matchedCount ?? segment.size,
                size: segment.size, notModified: true)
            try await connection.query(
                """
                UPDATE segments SET last_refresh_at = \(now), last_refresh_outcome = 'succeeded', last_refresh_error = NULL,
                    last_refresh_job = \(job.jobID), last_refresh_ms = 0, refreshed_revision = \(segment.revision),
                    next_refresh_at = CASE WHEN \(job.args.scheduled) OR next_refresh_at <= \(now) THEN \(segment.definition.schedule.next(after: now)) ELSE next_refresh_at END
                WHERE segment_id = \(segmentID)
                """, logger: logger)
            try await JobQueue.complete(
                job, worker: worker, result: .sync(SyncResult(sync: result, worker: worker)), now: now, on: connection, logger: logger)
            return result
        }
    }

    /// Records a failed pull on the segment (membership unchanged). The message must not carry the auth header.
    public func recordPullFailure(_ job: JobRecord, message: String) async throws {
        try await SegmentStore.recordFailure(job, message: message, at: clock(), database: database)
    }
}

extension ConnectorStore {
    /// The store's clock now.
    public var now: Date { clock() }

    /// Finishes a sync job that had nothing to do (the segment was deleted, paused or changed kind).
    public func finishSkipped(_ job: JobRecord, worker: String, reason: String) async throws {
        try await database.withTenant(job.tenantID) { connection in
            try await JobQueue.complete(
                job, worker: worker, result: .sync(SyncResult(sync: nil, skipped: reason, worker: worker)), now: clock(), on: connection,
                logger: database.logger)
        }
    }
}
