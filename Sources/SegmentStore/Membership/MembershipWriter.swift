import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// The one place a segment's membership changes: rule refreshes, connector
/// syncs and predictive scoring all write through it, so every change is a
/// difference (who entered, who exited) appended to the change log (``ChangeLog``),
/// sized in the history, and followed by the refreshes of segments that depend on it.
/// Call inside the tenant's transaction that also finishes the job or records the sync.
///
/// Each write is numbered (`segments.member_version`) and its changes in the log
/// keep that number, so a member stream that began at an older version can still
/// page through that version (`MembershipStore+Paging.swift`) for as long as the
/// log keeps them.
enum MembershipWriter {
    /// What a write changed.
    struct Change: Sendable, Equatable {
        var size: Int64
        var entered: Int64
        var exited: Int64
        /// How long selecting the new members took (the rule's query), for ``replace``; the rest is writing.
        var selectMilliseconds: Int64 = 0
    }

    /// Makes the membership exactly the users `fresh` selects: a query with a
    /// `user_index` column whose first parameter is the tenant id.
    static func replace(
        segmentID: String, tenant: TenantID, with fresh: String, bindings: PostgresBindings, now: Date, jobID: Int64,
        cause: MembershipChangeCause, on connection: PostgresConnection, logger: Logger
    ) async throws -> Change {
        let version = try await nextVersion(of: segmentID, on: connection, logger: logger)
        try await MemberSetCache.membershipWillChange(tenant: tenant, segment: segmentID, version: version, on: connection, logger: logger)
        // The new set goes into an indexed, analyzed temporary table first. As a CTE (no index,
        // a guessed size) the anti-join against the current members ran as a nested loop over
        // both sets whenever the planner also thought the segment had one member — which it does
        // right after a refresh, before autovacuum analyzes segment_members (auto_explain: 4.2M
        // rows compared for 2,902 unchanged members; 12 s for 14,497). With the index every plan
        // is a lookup per member, whatever the estimates.
        // CREATE TABLE AS, not INSERT … SELECT: PostgreSQL plans no writing query in parallel except
        // this one, and a refresh's query is one statement (perf over the standard suite: one core idle).
        let selectStarted = ContinuousClock.now
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    CREATE TEMP TABLE fresh_members ON COMMIT DROP AS
                    SELECT f.user_index::bigint AS user_index FROM (\(fresh)) f
                    WHERE f.user_index IS NOT NULL AND \(MembershipWriteLock.existingUser("f.user_index", tenant: "$1"))
                    """,
                binds: bindings),
            logger: logger)
        let selectMilliseconds = milliseconds(since: selectStarted)
        try await connection.query("CREATE INDEX ON fresh_members (user_index)", logger: logger)
        try await connection.query("ANALYZE fresh_members", logger: logger)
        var context = PostgresBindings()
        context.append(tenant.rawValue)
        context.append(segmentID)
        context.append(now)
        context.append(String(jobID))
        context.append(version)
        let sql = """
            WITH exited AS (
                DELETE FROM segment_members m WHERE m.tenant_id = $1 AND m.segment_id = $2
                AND NOT EXISTS (SELECT 1 FROM fresh_members f WHERE f.user_index = m.user_index)
                RETURNING m.user_index
            ),
            entered AS (
                INSERT INTO segment_members (tenant_id, segment_id, user_index, entered_at)
                SELECT $1, $2, f.user_index, $3 FROM fresh_members f ON CONFLICT DO NOTHING
                RETURNING user_index
            ),
            diff AS (
                SELECT $2::text AS segment_id, user_index, true AS entered, $5::int8 AS version FROM entered
                UNION ALL SELECT $2, user_index, false, $5 FROM exited
            ),
            \(ChangeLog.appending(diff: "diff", tenant: "$1", effectiveAt: "$3::timestamptz", cause: cause, jobID: "$4::bigint"))
            SELECT (SELECT count(*) FROM fresh_members)::int8, (SELECT count(*) FROM entered)::int8, (SELECT count(*) FROM exited)::int8,
                   (SELECT count(*) FROM logged)::int8
            """
        var change = Change(size: 0, entered: 0, exited: 0)
        for try await (size, entered, exited, _) in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: context), logger: logger)
            .decode((Int64, Int64, Int64, Int64).self)
        {
            change = Change(size: size, entered: entered, exited: exited, selectMilliseconds: selectMilliseconds)
        }
        try await connection.query("DROP TABLE fresh_members", logger: logger)
        return change
    }

    /// Adds the users `adding` selects and removes those `removing` selects
    /// (each a query with a `user_index` column over the same bindings, first
    /// parameter the tenant id), without reading the rest of the membership.
    /// - Parameter exact: The caller guarantees `adding` selects distinct users who are not
    ///   members (a difference against the members read in this transaction), so they are
    ///   inserted as they are: no duplicate removal and no conflict check, which cost about
    ///   a third of writing a new segment's members.
    static func change(
        segmentID: String, tenant: TenantID, adding: String?, removing: String?, bindings: PostgresBindings, now: Date, jobID: Int64,
        size knownSize: Int64? = nil, exact: Bool = false, cause: MembershipChangeCause, on connection: PostgresConnection, logger: Logger
    ) async throws -> Change {
        let version = try await nextVersion(of: segmentID, on: connection, logger: logger)
        try await MemberSetCache.membershipWillChange(tenant: tenant, segment: segmentID, version: version, on: connection, logger: logger)
        var bindings = bindings
        let n = bindings.count
        bindings.append(segmentID)
        bindings.append(now)
        bindings.append(String(jobID))
        bindings.append(version)
        let sql = """
            WITH exited AS (
                DELETE FROM segment_members m WHERE m.tenant_id = $1 AND m.segment_id = $\(n + 1)
                AND m.user_index IN (\(removing ?? "SELECT NULL::bigint"))
                RETURNING m.user_index
            ),
            entered AS (
                INSERT INTO segment_members (tenant_id, segment_id, user_index, entered_at)
                SELECT \(exact ? "" : "DISTINCT ")$1, $\(n + 1), a.user_index, $\(n + 2)::timestamptz FROM (\(adding ?? "SELECT NULL::bigint AS user_index")) a
                WHERE a.user_index IS NOT NULL AND \(MembershipWriteLock.existingUser("a.user_index", tenant: "$1"))\(exact ? "" : " ON CONFLICT DO NOTHING")
                RETURNING user_index
            ),
            diff AS (
                SELECT $\(n + 1)::text AS segment_id, user_index, true AS entered, $\(n + 4)::int8 AS version FROM entered
                UNION ALL SELECT $\(n + 1), user_index, false, $\(n + 4) FROM exited
            ),
            \(ChangeLog.appending(diff: "diff", tenant: "$1", effectiveAt: "$\(n + 2)::timestamptz", cause: cause, jobID: "$\(n + 3)::bigint"))
            SELECT (SELECT count(*) FROM entered)::int8, (SELECT count(*) FROM exited)::int8, (SELECT count(*) FROM logged)::int8
            """
        var entered: Int64 = 0
        var exited: Int64 = 0
        for try await (e, x, _) in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
            .decode((Int64, Int64, Int64).self)
        {
            entered = e
            exited = x
        }
        if let knownSize { return Change(size: knownSize, entered: entered, exited: exited) }
        var size: Int64 = 0
        for try await count in try await connection.query(
            "SELECT count(*)::int8 FROM segment_members WHERE segment_id = \(segmentID)", logger: logger
        ).decode(Int64.self) { size = count }
        return Change(size: size, entered: entered, exited: exited)
    }

    /// Numbers the write about to happen: the segment's next member version (the row
    /// lock orders concurrent writers of one segment).
    static func nextVersion(of segmentID: String, on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        var version: Int64?
        for try await bumped in try await connection.query(
            "UPDATE segments SET member_version = member_version + 1 WHERE segment_id = \(segmentID) RETURNING member_version", logger: logger
        ).decode(Int64.self) { version = bumped }
        guard let version else { throw DomainError(.notFound, "segment \(segmentID) not found") }
        return version
    }

    /// Records a finished change on the segment: its size and last refresh (with
    /// the connector's counts for connector segments), the revision the members were
    /// computed from (`segment` is read under the lock the change holds), a
    /// size-history point, and refreshes of the segments that follow this one. A
    /// refresh when the segment is due (a new or changed scheduled segment) counts as
    /// the scheduled one. The following segments evaluate at `evaluatedAt` (the instant
    /// this one's members are as of; `now` when not given), all at one instant.
    static func record(
        _ change: Change, segment: SegmentRecord, now: Date, evaluatedAt: Date? = nil, durationMilliseconds: Int64, jobID: Int64?,
        scheduled: Bool, connectorCount: Int64? = nil, matchedCount: Int64? = nil, creator: String,
        on connection: PostgresConnection, logger: Logger
    ) async throws {
        let segmentID = segment.segmentID
        let tenant = segment.tenantID
        try await connection.query(
            """
            UPDATE segments SET size = \(change.size), last_refresh_at = \(now), last_refresh_outcome = 'succeeded',
                last_refresh_error = NULL, last_refresh_ms = \(durationMilliseconds), last_refresh_job = \(jobID),
                connector_count = coalesce(\(connectorCount), connector_count), matched_count = coalesce(\(matchedCount), matched_count),
                refreshed_revision = \(segment.revision),
                next_refresh_at = CASE WHEN \(scheduled) OR next_refresh_at <= \(now)
                                       THEN \(segment.definition.schedule.next(after: now)) ELSE next_refresh_at END
            WHERE segment_id = \(segmentID)
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO segment_size_history (tenant_id, segment_id, time, size, entered, exited, duration_ms, job_id)
            VALUES (\(tenant.rawValue), \(segmentID), \(now), \(change.size), \(change.entered), \(change.exited),
                    \(durationMilliseconds), \(jobID))
            """, logger: logger)
        for try await dependent in try await connection.query(
            """
            SELECT segment_id FROM segments
            WHERE deleted_at IS NULL AND state = 'active' AND \(segmentID) = ANY(refs) AND (schedule ->> 'after_dependencies')::boolean
            """, logger: logger
        ).decode(String.self) {
            _ = try await JobQueue.enqueue(
                tenant: tenant, kind: .refresh, target: ResourceName.segmentName(tenant, dependent),
                args: JobArguments(reason: "dependency \(segmentID)", evaluateAt: AudienceTime.microseconds(evaluatedAt ?? now)),
                uniqueKey: "refresh:\(dependent)", runAt: now, creator: creator,
                on: connection, logger: logger)
        }
    }

    /// Milliseconds since `start`.
    static func milliseconds(since start: ContinuousClock.Instant) -> Int64 {
        let elapsed = ContinuousClock.now - start
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }
}
