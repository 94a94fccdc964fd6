/// What one tenant may hold and queue, so one busy tenant cannot fill the
/// database, the job queue or the export disk for everyone. Past a quota the
/// request fails with RESOURCE_EXHAUSTED naming it (`QuotaFailure`).
public struct TenantQuotas: Sendable, Equatable {
    /// Segments (not counting deleted ones awaiting purge).
    public var maxSegments: Int = 10_000
    /// Jobs queued or waiting to retry (refreshes, exports, pulls, trainings a caller asked for).
    public var maxPendingJobs: Int = 1_000
    /// Bytes of export files kept (until they expire).
    public var maxExportBytes: Int64 = 10 * 1024 * 1024 * 1024

    public init() {}

    /// The error for quota `name` (`segments`, `pending_jobs`, `export_bytes`) at `limit`.
    public static func exceeded(_ name: String, limit: Int64, what: String) -> DomainError {
        DomainError.rateLimited(name, "the tenant's quota of \(limit) \(what) is used up (\(name))", retryAfter: nil)
    }
}
