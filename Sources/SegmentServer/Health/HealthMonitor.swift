import SegmentDomain
import Synchronization

/// The server's serving state, shared by the health service and the lifecycle.
///
/// NOT_SERVING until the database is reachable and migrated, SERVING after,
/// NOT_SERVING again while draining. Watchers get every change.
public final class HealthMonitor: Sendable {
    /// Serving states, as in grpc.health.v1.
    public enum Status: Sendable, Equatable {
        case serving
        case notServing
    }

    private struct State {
        var status: Status = .notServing
        var watchers: [Int: AsyncStream<Status>.Continuation] = [:]
        var nextWatcher = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// The current status.
    public var status: Status { state.withLock { $0.status } }

    /// Changes the status and tells every watcher.
    public func set(_ status: Status) {
        let watchers = state.withLock { state -> [AsyncStream<Status>.Continuation] in
            guard state.status != status else { return [] }
            state.status = status
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.yield(status) }
    }

    /// The current status, then each change, until the consumer stops.
    public func updates() -> AsyncStream<Status> {
        let (stream, continuation) = AsyncStream.makeStream(of: Status.self, bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state -> Int in
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[id] = continuation
            continuation.yield(state.status)
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Ends every watch stream (at shutdown).
    public func finishWatchers() {
        let watchers = state.withLock { state in
            defer { state.watchers.removeAll() }
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.finish() }
    }
}
