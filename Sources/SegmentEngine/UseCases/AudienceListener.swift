import Logging
import SegmentStore
import ServiceLifecycle

/// Keeps this process's loaded audiences close behind the database: each
/// change committed by any process (ingest here or on another replica) starts
/// a background catch-up of that tenant. Correctness does not rest on it (a
/// refresh catches up itself before it evaluates); it keeps that catch-up small.
public struct AudienceListener: Service {
    let database: Database
    let audiences: AudienceRegistry?
    let logger: Logger

    public func run() async throws {
        guard let audiences else {
            // The engine is off: nothing to keep current, but a service that returns would stop the group.
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await AudienceChanges.listen(database: database) { tenant in await audiences.changed(tenant) }
                } catch {
                    if Task.isCancelled { return }
                    logger.warning("audience change notifications stopped; refreshes still catch up", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        await audiences.shutdown()
    }
}

extension UseCases {
    /// The service that catches loaded audiences up when any process changes their data.
    public var audienceListener: AudienceListener {
        AudienceListener(database: database, audiences: audiences, logger: Logger(label: "segmentd.audience"))
    }
}
