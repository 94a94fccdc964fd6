import Foundation
import Logging
import PostgresNIO
import SegmentDomain

extension SegmentStore {
    /// Records a failed refresh on the segment (its membership is unchanged).
    public func recordFailure(_ job: JobRecord, message: String) async throws {
        try await Self.recordFailure(job, message: message, at: clock(), database: database)
    }

    /// Records any kind's failed refresh, sync or training on its segment (the membership is unchanged).
    static func recordFailure(_ job: JobRecord, message: String, at now: Date, database: Database) async throws {
        let segmentID = job.segmentID
        try await database.withTenant(job.tenantID) { connection in
            try await connection.query(
                """
                UPDATE segments SET last_refresh_at = \(now), last_refresh_outcome = 'failed', last_refresh_error = \(message),
                    last_refresh_job = \(job.jobID)
                WHERE segment_id = \(segmentID)
                """, logger: database.logger)
        }
    }

    /// Size history, newest first.
    public func history(tenant: TenantID, segmentID: String, limit: Int) async throws -> [SizeHistoryPoint] {
        try await database.withTenant(tenant) { connection in
            _ = try await SegmentStore.fetch(segmentID, tenant: tenant, on: connection, logger: database.logger)
            var points: [SizeHistoryPoint] = []
            for try await row in try await connection.query(
                """
                SELECT time, size, entered, exited, duration_ms FROM segment_size_history
                WHERE segment_id = \(segmentID) ORDER BY seq DESC LIMIT \(Int64(limit))
                """, logger: database.logger
            ).decode((Date, Int64, Int64, Int64, Int64).self) {
                points.append(SizeHistoryPoint(time: row.0, size: row.1, entered: row.2, exited: row.3, durationMilliseconds: row.4))
            }
            return points
        }
    }
}
