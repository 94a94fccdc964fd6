import Logging
import SegmentStore
import ServiceLifecycle

/// Runs real-time segments (``RealtimeSegments``) until shutdown, then gives the
/// leases up so another replica takes the tenants over at once. Listed after the
/// audience listener, it stops first (services stop in reverse order), while the
/// database is still there to release the leases.
public struct RealtimeService: Service {
    let realtime: RealtimeSegments?

    public func run() async throws {
        guard let realtime else {
            // The engine is off: real-time segments are refreshed on their schedule only.
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            await realtime.run()
        }
        await realtime.shutdown(releasing: true)
    }
}

extension UseCases {
    /// The service that keeps this replica's real-time segments.
    public var realtimeService: RealtimeService { RealtimeService(realtime: realtime) }

    /// Real-time storage (leases, fenced writes), for tests that play a stale owner.
    public var realtimeStore: RealtimeStore { RealtimeStore(database: database) }
}
