import Logging
import SegmentStore
import ServiceLifecycle

/// Wakes this process's operation waits when their jobs change: listens for the
/// notifications job changes send while some wait is open, until shutdown. While
/// it is not listening, waits fall back to their slow poll.
public struct OperationListener: Service {
    let wakeups: OperationWakeups
    let queue: JobQueue
    let logger: Logger

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await wakeups.run(queue: queue, logger: logger)
        }
    }
}

extension UseCases {
    /// The service that wakes operation waits on job notifications.
    public var operationListener: OperationListener {
        OperationListener(wakeups: operationWakeups, queue: jobQueue, logger: Logger(label: "segmentd.operations"))
    }
}
