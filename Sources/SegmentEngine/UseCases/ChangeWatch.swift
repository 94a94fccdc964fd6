import Foundation
import SegmentDomain
import SegmentStore

/// `WatchSegmentChanges`: a tenant's membership changes from a position or a time,
/// then as they commit, in position order.
///
/// The stream reads the log a page at a time, each in a short transaction of its
/// own, and sends the page after it ends: a consumer that reads slowly (or stops)
/// holds no database connection, and memory stays at one page. When a page comes
/// back short the stream has seen everything committed, and waits for the
/// tenant's next commit (``ChangeWakeups``) or the heartbeat, whichever comes
/// first; a heartbeat says the position seen so far, so an idle consumer can
/// checkpoint past changes of segments it does not watch.
public struct ChangeWatch: Sendable {
    let changeLog: ChangeLogStore
    let wakeups: ChangeWakeups

    /// Changes one message carries at most.
    public static let pageSize = 1_000

    public init(changeLog: ChangeLogStore, wakeups: ChangeWakeups) {
        self.changeLog = changeLog
        self.wakeups = wakeups
    }

    /// Where a watch begins.
    public enum Start: Sendable, Equatable {
        /// Changes committed from now on.
        case now
        /// Every change after this position.
        case after(Int64)
        /// Every change written at or after this time.
        case time(Date)
    }

    /// Sends `tenant`'s changes (of `segmentIDs`, or all when empty) from `start`, then
    /// as they commit, until the task is cancelled or `send` throws. `send` gets the
    /// changes (none for a heartbeat) and the position seen through.
    /// - Throws: `DomainError` `outOfRange` (with the oldest position kept) for a start
    ///   older than the log keeps; `invalidArgument` for a position not reached yet or a
    ///   heartbeat outside 1-300 seconds.
    public func watch(
        tenant: TenantID, segmentIDs: [String], from start: Start, heartbeat: Duration,
        _ send: @Sendable ([LoggedChange], Int64) async throws -> Void
    ) async throws {
        guard heartbeat >= .seconds(1), heartbeat <= .seconds(300) else {
            throw DomainError.invalid("heartbeat_seconds", "1-300 seconds (0 means 10)")
        }
        let segments = segmentIDs.isEmpty ? nil : segmentIDs
        try await wakeups.watching {
            var position = try await startPosition(tenant: tenant, start)
            // The first message says where the stream stands, so a consumer starting "now" can checkpoint at once.
            try await send([], position)
            var lastSent = ContinuousClock.now
            while !Task.isCancelled {
                let generation = wakeups.generation(of: tenant)
                let page = try await changeLog.page(tenant: tenant, after: position, segments: segments, limit: Self.pageSize)
                if !page.changes.isEmpty {
                    try await send(page.changes, page.seenThrough)
                    position = page.seenThrough
                    lastSent = .now
                    continue
                }
                // A short page saw everything committed: past changes of unwatched segments too. A heartbeat
                // when due, even while the tenant's other segments keep changing (their commits wake the loop).
                position = page.seenThrough
                if ContinuousClock.now - lastSent >= heartbeat {
                    try await send([], position)
                    lastSent = .now
                }
                await wakeups.wait(tenant: tenant, beyond: generation, timeout: heartbeat - (ContinuousClock.now - lastSent))
            }
        }
    }

    /// The position the stream reads after.
    private func startPosition(tenant: TenantID, _ start: Start) async throws -> Int64 {
        switch start {
        case .now:
            return try await changeLog.bounds(tenant: tenant).latest
        case .after(let position):
            let bounds = try await changeLog.bounds(tenant: tenant)
            guard position >= 0 else { throw DomainError.invalid("after_position", "a position is 0 or more") }
            guard position <= bounds.latest else {
                throw DomainError.invalid("after_position", "the tenant's log has reached position \(bounds.latest) only")
            }
            guard position >= bounds.oldest - 1 else {
                throw DomainError(
                    .outOfRange,
                    "changes before position \(bounds.oldest) are no longer kept (the change log's retention); the oldest available is \(bounds.oldest)",
                    metadata: ["oldest_position": "\(bounds.oldest)"],
                    violations: [.init(field: "after_position", problem: "start at \(bounds.oldest - 1) or later")])
            }
            return position
        case .time(let time):
            guard let position = try await changeLog.position(before: time, tenant: tenant) else {
                let bounds = try await changeLog.bounds(tenant: tenant)
                throw DomainError(
                    .outOfRange,
                    "changes written at \(time) may no longer be kept (the change log's retention); the oldest available position is \(bounds.oldest)",
                    metadata: ["oldest_position": "\(bounds.oldest)"],
                    violations: [.init(field: "start_time", problem: "start later, or at after_position \(bounds.oldest - 1)")])
            }
            return position
        }
    }
}
