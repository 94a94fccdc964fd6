import SegmentStore
import ServiceLifecycle

/// Keeps this process's in-memory member sets current: listens for the
/// notifications other processes send when membership changes, until shutdown.
/// While it is not listening, membership checks read PostgreSQL.
public struct MemberSetListener: Service {
    let database: Database

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await database.memberSets.run(database: database)
        }
        // With the cache off the listener has nothing to do; it still lives until
        // shutdown, since a service that returns would stop the whole group.
        try? await gracefulShutdown()
    }
}

extension UseCases {
    /// The service that keeps membership checks' in-memory sets current.
    public var memberSetListener: MemberSetListener { MemberSetListener(database: database) }
}
