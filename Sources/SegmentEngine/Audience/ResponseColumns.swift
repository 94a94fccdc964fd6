import SegmentDomain
import SegmentStore

/// The responses of one kind to one campaign, sorted by time like
/// ``EventColumns``: a window is a binary-searched range of rows.
public struct ResponseColumns: Sendable {
    /// The user index of each response.
    public private(set) var users: [UInt32] = []
    /// Microseconds since 1970, non-decreasing.
    public private(set) var times: [Int64] = []

    public init() {}

    public var count: Int { users.count }

    /// Rows at or after `start` and strictly before `end` (each when given).
    public func rows(from start: Int64? = nil, before end: Int64? = nil) -> Range<Int> {
        let lower = start.map { firstRow(atOrAfter: $0) } ?? 0
        let upper = end.map { firstRow(atOrAfter: $0) } ?? count
        return lower..<Swift.max(lower, upper)
    }

    /// The first row whose time is at or after `time` (`count` when none).
    public func firstRow(atOrAfter time: Int64) -> Int {
        var low = 0
        var high = times.count
        while low < high {
            let middle = (low + high) / 2
            if times[middle] < time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// False after a batch read in storage order, until ``sortByTime()``.
    private(set) var isInTimeOrder = true

    /// Appends a batch: in time order and starting no earlier than the last response held,
    /// or in storage order (``AudienceRows/Responses/inTimeOrder`` false), to be put in
    /// order by ``sortByTime()`` before it is read.
    mutating func append(_ batch: AudienceRows.Responses, live: MemberBitmap) throws -> Int {
        var last = times.last ?? .min
        var skipped = 0
        if !batch.inTimeOrder, !batch.times.isEmpty { isInTimeOrder = false }
        for (user, time) in zip(batch.users, batch.times) {
            if batch.inTimeOrder {
                guard !isInTimeOrder || time >= last else { throw DomainError(.internalError, "responses arrived out of time order") }
                last = time
            }
            guard live.contains(user) else {
                skipped += 1
                continue
            }
            users.append(user)
            times.append(time)
        }
        return skipped
    }

    /// Puts the responses in time order (ties in the order they were read), once, after loading in storage order.
    mutating func sortByTime() {
        guard !isInTimeOrder else { return }
        let order = times.indices.sorted { times[$0] != times[$1] ? times[$0] < times[$1] : $0 < $1 }
        times = order.map { times[$0] }
        users = order.map { users[$0] }
        isInTimeOrder = true
    }

    mutating func shrink() {
        users = users.trimmed()
        times = times.trimmed()
    }

    public var bytesHeld: Int { MemoryEstimate.bytes(of: users) + MemoryEstimate.bytes(of: times) }
}
