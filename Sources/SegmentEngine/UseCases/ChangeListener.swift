import Logging
import SegmentStore
import ServiceLifecycle

/// Wakes this process's change watches when their tenants' membership changes
/// commit: listens for the change log's notifications while some watch is open,
/// until shutdown. While it is not listening, watches look at each heartbeat.
public struct ChangeListener: Service {
    let wakeups: ChangeWakeups
    let changeLog: ChangeLogStore
    let logger: Logger

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await wakeups.run(changeLog: changeLog, logger: logger)
        }
    }
}

extension UseCases {
    /// The service that wakes change watches on the change log's notifications.
    public var changeListener: ChangeListener {
        ChangeListener(wakeups: changeWakeups, changeLog: changeLog, logger: Logger(label: "segmentd.changes"))
    }
}
