import Foundation
import Logging
import PostgresNIO

/// Reads a segment's members for an export, and finishes export jobs.
public struct ExportStore: Sendable {
    let database: Database
    let clock: @Sendable () -> Date

    public init(database: Database, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.clock = clock
    }

    /// One exported member: the user id, each requested attribute as text (CSV,
    /// empty when unset) and all of them as a JSON object (NDJSON).
    public struct Row: Sendable {
        public let userID: String
        public let texts: [String]
        public let json: String
    }

    /// Streams the members of `segmentID` (by user index) from one snapshot;
    /// `total` is called first with the count. Memory stays at one row.
    public func rows(
        tenant: TenantID, segmentID: String, attributes: [String],
        total: @Sendable (Int64) async throws -> Void, row: @Sendable (Row) async throws -> Void
    ) async throws {
        try await database.withConnection { connection in
            let logger = database.logger
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                try await connection.query("SELECT set_config('app.tenant_id', \(tenant.rawValue), true)", logger: logger)
                try await MembershipStore.requireSegments([segmentID], tenant: tenant, on: connection, logger: logger)
                for try await count in try await connection.query(
                    "SELECT count(*)::int8 FROM segment_members WHERE segment_id = \(segmentID)", logger: logger
                ).decode(Int64.self) { try await total(count) }
                for try await (id, texts, json) in try await connection.query(
                    """
                    SELECT u.external_id,
                           array(SELECT coalesce(p.attributes #>> ARRAY[a.k], '') FROM unnest(\(attributes)::text[]) WITH ORDINALITY AS a(k, i) ORDER BY a.i),
                           coalesce((SELECT jsonb_object_agg(a.k, p.attributes -> a.k) FROM unnest(\(attributes)::text[]) AS a(k) WHERE p.attributes ? a.k), '{}')::text
                    FROM segment_members m
                    JOIN users u ON u.tenant_id = m.tenant_id AND u.user_index = m.user_index
                    LEFT JOIN profiles p ON p.tenant_id = m.tenant_id AND p.user_index = m.user_index
                    WHERE m.segment_id = \(segmentID)
                    ORDER BY m.user_index
                    """, logger: logger
                ).decode((String, [String], String).self) {
                    try await row(Row(userID: id, texts: texts, json: json))
                }
                try await connection.query("COMMIT", logger: logger)
            } catch {
                try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// Requests an export (audited: who exported what).
    public func request(
        tenant: TenantID, segmentID: String, format: String, attributes: [String], creator: String, audit: AuditContext
    ) async throws -> JobRecord {
        try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)") { connection, record in
            let logger = database.logger
            _ = try await SegmentStore.fetch(segmentID, tenant: tenant, on: connection, logger: logger, showDeleted: false)
            let (job, _) = try await JobQueue.enqueue(
                tenant: tenant, kind: "export", target: "tenants/\(tenant)/segments/\(segmentID)",
                args: ["format": format, "attributes": attributes.joined(separator: ",")], uniqueKey: nil, runAt: clock(),
                creator: creator, on: connection, logger: logger)
            record.after = ["operation": .string(job.name), "format": .string(format), "attributes": .strings(attributes)]
            return job
        }
    }

    /// Completes an export attempt and audits what was exported (rows, checksum), in one transaction.
    public func finish(_ job: JobRecord, worker: String, result: [String: String]) async throws {
        let audit = AuditContext(
            tenant: job.tenantID, actor: AuditActor(name: job.creator), action: "segmentd.jobs/Export", resultCode: { _ in "INTERNAL" })
        try await database.audited(audit, resource: job.target) { connection, record in
            try await JobQueue.complete(job, worker: worker, result: result, now: clock(), on: connection, logger: database.logger)
            record.after = result.mapValues { .string($0) }
        }
    }
}
