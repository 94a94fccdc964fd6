import Logging
import PostgresNIO
import SegmentDomain

/// Checks a tenant's ``TenantQuotas`` inside the transaction that would exceed
/// them. The tenant's quota lock (a transaction-scoped advisory lock) makes two
/// concurrent requests count one after the other, so a quota is never overrun.
enum QuotaCheck {
    static func lock(_ tenant: TenantID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(hashtext('segmentd.quota:' || \(tenant.rawValue)))", logger: logger)
    }

    /// Room for one more segment.
    static func requireSegmentRoom(_ tenant: TenantID, quotas: TenantQuotas, on connection: PostgresConnection, logger: Logger) async throws {
        try await lock(tenant, on: connection, logger: logger)
        let count = try await scalar("SELECT count(*)::int8 FROM segments WHERE deleted_at IS NULL", on: connection, logger: logger)
        if count >= Int64(quotas.maxSegments) {
            throw TenantQuotas.exceeded("segments", limit: Int64(quotas.maxSegments), what: "segments")
        }
    }

    /// Room for one more pending job, unless the one pending under `uniqueKey` will be shared.
    static func requireJobRoom(
        _ tenant: TenantID, uniqueKey: String?, quotas: TenantQuotas, on connection: PostgresConnection, logger: Logger
    ) async throws {
        try await lock(tenant, on: connection, logger: logger)
        if let uniqueKey,
            try await scalar(
                "SELECT count(*)::int8 FROM jobs WHERE unique_key = \(uniqueKey) AND state IN ('queued', 'retrying')", on: connection,
                logger: logger) > 0
        {
            return
        }
        let pending = try await scalar("SELECT count(*)::int8 FROM jobs WHERE state IN ('queued', 'retrying')", on: connection, logger: logger)
        if pending >= Int64(quotas.maxPendingJobs) {
            throw TenantQuotas.exceeded("pending_jobs", limit: Int64(quotas.maxPendingJobs), what: "pending jobs")
        }
    }

    /// Room for another export: the files kept so far are under the byte quota.
    static func requireExportRoom(_ tenant: TenantID, quotas: TenantQuotas, on connection: PostgresConnection, logger: Logger) async throws {
        let stored = try await scalar(
            """
            SELECT coalesce(sum((result ->> 'bytes')::int8), 0)::int8 FROM jobs
            WHERE kind = 'export' AND state = 'succeeded' AND NOT (result ? 'expired')
            """, on: connection, logger: logger)
        if stored >= quotas.maxExportBytes {
            throw TenantQuotas.exceeded("export_bytes", limit: quotas.maxExportBytes, what: "bytes of export files")
        }
    }

    private static func scalar(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        for try await value in try await connection.query(query, logger: logger).decode(Int64.self) { return value }
        return 0
    }
}
