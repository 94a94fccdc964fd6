import Logging
import PostgresNIO
import SegmentDomain

extension JobQueue {
    /// The NOTIFY channel of job changes; payloads are `<tenant> <job id>`, sent by a
    /// trigger on every visible change of a job (migration 12), on commit.
    public static let updatesChannel = "segmentd_job_updates"

    /// Calls `listening` once LISTEN is in effect, then `updated` with the tenant and job
    /// of each change, until the task is cancelled or the connection is lost. Holds one
    /// pooled connection while it listens.
    public func listenForUpdates(
        listening: @Sendable () -> Void, updated: @Sendable (_ tenant: String, _ jobID: Int64) -> Void
    ) async throws {
        try await database.withConnection { connection in
            try await connection.listen(on: Self.updatesChannel) { notifications in
                listening()
                for try await notification in notifications {
                    let parts = notification.payload.split(separator: " ")
                    guard parts.count == 2, let jobID = Int64(parts[1]) else { continue }
                    updated(String(parts[0]), jobID)
                }
            }
        }
    }
}
