import Foundation
import Logging
import SegmentDomain
import SegmentStore
import ServiceLifecycle

/// Enqueues scheduled refreshes (every N hours, daily at a time in a zone) as
/// segments come due — paused and deleted segments are skipped —, purges
/// segments deleted longer ago than the retention period, and drops the staged
/// ids of replace sessions left open past their expiry, deletes expired export files,
/// and (hourly) keeps the membership change log to its retention.
public struct SegmentScheduler: Service {
    let segments: SegmentStore
    let exports: ExportSweeper?
    let changeLog: ChangeLogStore?
    let interval: Duration
    let logger: Logger
    /// How often the change log is pruned (and its coming partitions made).
    static let changeLogPruneInterval: Duration = .seconds(3600)

    public init(
        segments: SegmentStore, exports: ExportSweeper? = nil, changeLog: ChangeLogStore? = nil, interval: Duration = .seconds(30),
        logger: Logger
    ) {
        self.segments = segments
        self.exports = exports
        self.changeLog = changeLog
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        var lastPrune: ContinuousClock.Instant?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let enqueued = try await segments.enqueueDueRefreshes()
                if enqueued > 0 { logger.info("scheduled refreshes", metadata: ["segments": "\(enqueued)"]) }
                let purged = try await segments.purgeExpired()
                if purged > 0 { logger.notice("purged deleted segments past their retention", metadata: ["segments": "\(purged)"]) }
                _ = try await segments.pruneAudienceChanges()
                let abandoned = try await segments.connectors.abortExpiredSessions()
                if abandoned > 0 { logger.notice("dropped expired replace sessions", metadata: ["sessions": "\(abandoned)"]) }
                if let deleted = try await exports?.sweep(), deleted > 0 {
                    logger.notice("deleted expired export files", metadata: ["files": "\(deleted)"])
                }
                if let changeLog, lastPrune.map({ ContinuousClock.now - $0 >= Self.changeLogPruneInterval }) ?? true {
                    lastPrune = .now
                    let pruned = try await changeLog.prune()
                    if pruned.rows > 0 || pruned.partitions > 0 {
                        logger.notice(
                            "pruned membership changes past their retention",
                            metadata: ["rows": "\(pruned.rows)", "partitions": "\(pruned.partitions)"])
                    }
                }
            } catch {
                logger.warning("could not enqueue scheduled refreshes", metadata: ["error": "\(String(reflecting: error))"])
            }
            // Sleep, but wake at once for a graceful shutdown.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }
}
