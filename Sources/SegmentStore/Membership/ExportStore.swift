import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// Reads a segment's members for an export, and finishes export jobs.
public struct ExportStore: Sendable {
    let database: Database
    let clock: @Sendable () -> Date
    /// What one tenant may queue and keep.
    let quotas: TenantQuotas

    public init(database: Database, clock: @escaping @Sendable () -> Date = { Date() }, quotas: TenantQuotas = TenantQuotas()) {
        self.database = database
        self.clock = clock
        self.quotas = quotas
    }

    /// Export file formats.
    public enum Format: String, Sendable {
        case csv, ndjson
    }

    /// SQL for one CSV field (RFC 4180: quoted when it holds a comma, a quote or a line break).
    /// A value a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or
    /// a carriage return) gets a leading `'`, so opening the file runs nothing (README, "Exports").
    static func csvField(_ expression: String) -> String {
        let neutral =
            "(CASE WHEN left(\(expression), 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN chr(39) || \(expression) ELSE \(expression) END)"
        return "(CASE WHEN \(neutral) ~ '[\",\\r\\n]' THEN '\"' || replace(\(neutral), '\"', '\"\"') || '\"' ELSE \(neutral) END)"
    }

    /// Members per chunk (users whose indexes share a block of this size).
    static let chunkSize = 1024

    /// Streams the export of `segmentID`'s members, by user index, from one
    /// snapshot, in chunks of whole lines (each ending in a line break) with
    /// their row counts; `total` is called first with the count. PostgreSQL
    /// formats the lines and joins up to ``chunkSize`` of them, so a thousand
    /// rows cross the wire and the decoder as one string (row by row, decoding
    /// held the export to 0.44× of `COPY`); memory stays at one chunk.
    public func chunks(
        tenant: TenantID, segmentID: String, attributes: [String], format: Format,
        total: @Sendable (Int64) async throws -> Void, chunk: @Sendable (String, Int64) async throws -> Void
    ) async throws {
        try await database.withTenantSnapshot(tenant) { connection in
            let logger = database.logger
            try await MembershipStore.requireSegments([segmentID], tenant: tenant, on: connection, logger: logger)
            for try await count in try await connection.query(
                "SELECT count(*)::int8 FROM segment_members WHERE segment_id = \(segmentID)", logger: logger
            ).decode(Int64.self) { try await total(count) }
            // $2… are the attribute names; identifiers never come from input.
            var bindings = PostgresBindings()
            bindings.append(segmentID)
            var fields = [Self.csvField("u.external_id")]
            var pairs: [String] = []
            for attribute in attributes {
                bindings.append(attribute)
                fields.append(Self.csvField("coalesce(p.attributes ->> $\(bindings.count), '')"))
                pairs.append("$\(bindings.count)::text, p.attributes -> $\(bindings.count)")
            }
            let expression: String
            switch format {
            case .csv: expression = fields.joined(separator: " || ',' || ")
            case .ndjson:
                expression =
                    "'{\"user_id\":' || to_json(u.external_id)::text || ',\"attributes\":' || "
                    + "jsonb_strip_nulls(jsonb_build_object(\(pairs.joined(separator: ", "))))::text || '}'"
            }
            let sql = """
                SELECT count(*)::int8, string_agg(\(expression), E'\\n' ORDER BY m.user_index) || E'\\n'
                FROM segment_members m
                JOIN users u ON u.tenant_id = m.tenant_id AND u.user_index = m.user_index
                LEFT JOIN profiles p ON p.tenant_id = m.tenant_id AND p.user_index = m.user_index
                WHERE m.segment_id = $1
                GROUP BY m.user_index / \(Self.chunkSize)
                ORDER BY m.user_index / \(Self.chunkSize)
                """
            for try await (rows, text) in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
                .decode((Int64, String).self)
            {
                try await chunk(text, rows)
            }
        }
    }

    /// Requests an export (audited: who exported what). An identical request (same
    /// segment, format and attributes) while one is pending shares its operation.
    public func request(
        tenant: TenantID, segmentID: String, format: String, attributes: [String], creator: String, audit: AuditContext
    ) async throws -> JobRecord {
        try await database.audited(audit, resource: "tenants/\(tenant)/segments/\(segmentID)") { connection, record in
            let logger = database.logger
            _ = try await SegmentStore.fetch(segmentID, tenant: tenant, on: connection, logger: logger, showDeleted: false)
            let uniqueKey = "export:\(segmentID):\(format):\(attributes.joined(separator: ","))"
            try await QuotaCheck.requireJobRoom(tenant, uniqueKey: uniqueKey, quotas: quotas, on: connection, logger: logger)
            try await QuotaCheck.requireExportRoom(tenant, quotas: quotas, on: connection, logger: logger)
            let (job, created) = try await JobQueue.enqueue(
                tenant: tenant, kind: .export, target: ResourceName.segmentName(tenant, segmentID),
                args: JobArguments(format: format, attributes: attributes), uniqueKey: uniqueKey, runAt: clock(),
                creator: creator, on: connection, logger: logger)
            record.after = [
                "operation": .string(job.name), "format": .string(format), "attributes": .strings(attributes), "new": .bool(created),
            ]
            return job
        }
    }

    // MARK: Expiry

    /// A finished export whose file is to be deleted.
    public struct ExpiredFile: Sendable, Equatable {
        public let tenant: TenantID
        public let jobID: Int64
        public let file: String
    }

    /// Marks exports finished before `cutoff` (the retention) expired, and returns every
    /// expired export whose file is not yet deleted (including those a segment's purge
    /// or a user's erasure expired).
    public func expire(finishedBefore cutoff: Date) async throws -> [ExpiredFile] {
        try await database.asJobWorker { connection in
            let logger = database.logger
            try await connection.query(
                """
                UPDATE jobs SET result = result || '{"expired": "kept for the export retention"}'::jsonb
                WHERE kind = 'export' AND state = 'succeeded' AND NOT (result ? 'expired') AND finished_at < \(cutoff)
                """, logger: logger)
            var files: [ExpiredFile] = []
            for try await (tenant, jobID, file) in try await connection.query(
                """
                SELECT tenant_id, job_id, result ->> 'file' FROM jobs
                WHERE kind = 'export' AND state = 'succeeded' AND result ? 'expired' AND NOT (result ? 'file_deleted')
                ORDER BY tenant_id, job_id LIMIT 1000
                """, logger: logger
            ).decode((String, Int64, String).self) {
                if let tenant = TenantID(tenant) { files.append(ExpiredFile(tenant: tenant, jobID: jobID, file: file)) }
            }
            return files
        }
    }

    /// Records that an expired export's file is gone.
    public func fileDeleted(_ file: ExpiredFile) async throws {
        try await database.asJobWorker { connection in
            try await connection.query(
                """
                UPDATE jobs SET result = result || '{"file_deleted": true}'::jsonb
                WHERE tenant_id = \(file.tenant.rawValue) AND job_id = \(file.jobID)
                """, logger: database.logger)
        }
    }

    /// Expires every finished export of the tenant (its files may hold `reason`'s data),
    /// or of one segment (`target`, its name). Runs in the caller's transaction (a user's
    /// erasure, a segment's purge).
    static func expireAll(reason: String, target: String? = nil, on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        for try await count in try await connection.query(
            """
            WITH expired AS (
                UPDATE jobs SET result = result || jsonb_build_object('expired', \(reason)::text)
                WHERE kind = 'export' AND state = 'succeeded' AND NOT (result ? 'expired')
                  AND (\(target)::text IS NULL OR target = \(target)) RETURNING 1
            )
            SELECT count(*)::int8 FROM expired
            """, logger: logger
        ).decode(Int64.self) { return count }
        return 0
    }

    /// Completes an export attempt and audits what was exported (rows, checksum), in one transaction.
    public func finish(_ job: JobRecord, worker: String, result: ExportResult) async throws {
        let audit = AuditContext(
            tenant: job.tenantID, actor: AuditActor(name: job.creator), action: "segmentd.jobs/Export", resultCode: { _ in "INTERNAL" })
        try await database.audited(audit, resource: job.target) { connection, record in
            try await JobQueue.complete(job, worker: worker, result: .export(result), now: clock(), on: connection, logger: database.logger)
            record.after = [
                "export": .string(result.export), "rows": .number(Double(result.rows)), "bytes": .number(Double(result.bytes)),
                "sha256": .string(result.sha256), "format": .string(result.format), "file": .string(result.file),
                "worker": .string(result.worker),
            ]
        }
    }
}
