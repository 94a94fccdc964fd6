import SegmentDomain
import Synchronization

/// Work that must wait until the current transaction has ended, committed or
/// rolled back — dropping in-memory copies of rows the transaction changed, so
/// no reader keeps serving what it replaced. ``Database/withTransaction(_:)``
/// makes one per transaction and runs it when the transaction ends.
final class TransactionEnd: Sendable {
    /// The member sets of the database the transaction runs on.
    let memberSets: MemberSetCache
    private let actions = Mutex<[@Sendable () -> Void]>([])

    /// The transaction the current task runs in, if any.
    @TaskLocal static var current: TransactionEnd?

    init(memberSets: MemberSetCache) {
        self.memberSets = memberSets
    }

    /// Runs `action` once the transaction has ended.
    func onEnd(_ action: @escaping @Sendable () -> Void) {
        actions.withLock { $0.append(action) }
    }

    /// Runs the actions (once).
    func run() {
        let pending = actions.withLock { actions in
            defer { actions.removeAll() }
            return actions
        }
        for action in pending { action() }
    }
}
