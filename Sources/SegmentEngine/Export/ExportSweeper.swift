import Foundation
import Logging
import SegmentDomain
import SegmentStore

/// Deletes export files that expired: kept longer than the retention, of a purged
/// segment, or made before a user's erasure. The export's operation then says why
/// (`ExportResult.expired`), and downloading it is refused with that reason.
public struct ExportSweeper: Sendable {
    let store: ExportStore
    let directory: String
    let retention: Duration
    let clock: @Sendable () -> Date

    public init(store: ExportStore, directory: String, retention: Duration, clock: @escaping @Sendable () -> Date) {
        self.store = store
        self.directory = directory
        self.retention = retention
        self.clock = clock
    }

    /// Expires what is due and deletes its files; returns how many files were deleted.
    @discardableResult
    public func sweep() async throws -> Int {
        let cutoff = clock().addingTimeInterval(-Double(retention.components.seconds))
        var deleted = 0
        for file in try await store.expire(finishedBefore: cutoff) {
            let path = ExportHandler.path(directory: directory, tenant: file.tenant, fileName: file.file)
            // Already gone when a sweep stopped before recording it.
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try await store.fileDeleted(file)
            deleted += 1
        }
        return deleted
    }
}
