import SegmentDomain
import SegmentRules
import SegmentStore

/// Every event of one type, as columns sorted by time: row `i` is the event of
/// user `users[i]` at `times[i]`, with its properties at row `i` of each
/// property column.
///
/// Sorted by time so a window is a contiguous range found by binary search
/// (``rows(from:before:)``), and a condition is a scan over that range of a few
/// flat arrays (4 bytes of user, 8 of time, 4 or 8 per property used) with no
/// object per event. Ties keep the database's order.
public struct EventColumns: Sendable {
    /// The event name.
    public let name: String
    /// The user index of each event.
    public private(set) var users: [UInt32] = []
    /// Microseconds since 1970 (``AudienceTime``), non-decreasing.
    public private(set) var times: [Int64] = []
    /// The event type's properties by name (every property the catalog has for the type).
    public private(set) var properties: [String: PropertyColumn] = [:]
    /// False after a batch read in storage order, until ``sortByTime()``.
    private(set) var isInTimeOrder = true

    public init(name: String) {
        self.name = name
    }

    /// How many events.
    public var count: Int { users.count }

    /// Rows at or after `start` (when given) and strictly before `end` (when given):
    /// the half-open windows of the rule language.
    public func rows(from start: Int64? = nil, before end: Int64? = nil) -> Range<Int> {
        let lower = start.map { firstRow(atOrAfter: $0) } ?? 0
        let upper = end.map { firstRow(atOrAfter: $0) } ?? count
        return lower..<Swift.max(lower, upper)
    }

    /// The first row whose time is at or after `time` (`count` when none).
    public func firstRow(atOrAfter time: Int64) -> Int {
        times.withUnsafeBufferPointer { times in
            var low = 0
            var high = times.count
            while low < high {
                let middle = (low + high) / 2
                if times[middle] < time { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    // MARK: Building

    /// Appends a batch. A batch in time order must start no earlier than the last event held;
    /// one in storage order (``AudienceRows/Events/inTimeOrder`` false) leaves the columns to
    /// be put in order by ``sortByTime()`` before they are read.
    /// - Parameter live: Users that exist; events of other indexes are skipped (returned as a count).
    mutating func append(_ batch: AudienceRows.Events, live: MemberBitmap) throws -> Int {
        guard batch.name.utf8.elementsEqual(name.utf8) else {
            throw DomainError(.internalError, "events of \(batch.name) handed to the columns of \(name)")
        }
        if batch.inTimeOrder {
            guard !isInTimeOrder || batch.times.first.map({ $0 >= (times.last ?? .min) }) ?? true,
                zip(batch.times, batch.times.dropFirst()).allSatisfy({ $0 <= $1 })
            else { throw DomainError(.internalError, "events of \(name) arrived out of time order") }
        } else if !batch.times.isEmpty {
            isInTimeOrder = false
        }
        for field in batch.fields where properties[field.name] == nil {
            var column = PropertyColumn(type: field.type)
            column.pad(to: count)
            properties[field.name] = column
        }
        let keep = batch.users.indices.filter { live.contains(batch.users[$0]) }
        let skipped = batch.count - keep.count
        let kept = skipped == 0 ? batch : Self.rows(keep, of: batch)
        users.append(contentsOf: kept.users)
        times.append(contentsOf: kept.times)
        for (field, values) in zip(kept.fields, kept.values) {
            try properties[field.name]!.append(contentsOf: values)
        }
        for name in properties.keys where properties[name]!.count < count {
            properties[name]!.pad(to: count)  // a property the batch did not carry
        }
        return skipped
    }

    /// The batch with only `rows`.
    private static func rows(_ rows: [Int], of batch: AudienceRows.Events) -> AudienceRows.Events {
        var kept = AudienceRows.Events(name: batch.name, fields: batch.fields, capacity: rows.count)
        kept.inTimeOrder = batch.inTimeOrder
        kept.users = rows.map { batch.users[$0] }
        kept.times = rows.map { batch.times[$0] }
        kept.values = batch.values.map { values in
            switch values {
            case .strings(let column): .strings(rows.map { column[$0] })
            case .numbers(let column): .numbers(rows.map { column[$0] })
            case .bools(let column): .bools(rows.map { column[$0] })
            case .times(let column): .times(rows.map { column[$0] })
            case .lists(let column): .lists(rows.map { column[$0] })
            }
        }
        return kept
    }

    /// Puts the events in time order (ties in the order they were read), once, after loading in storage order.
    mutating func sortByTime() {
        guard !isInTimeOrder else { return }
        // Sorting (time, row) pairs keeps the comparison on contiguous memory and makes ties deterministic.
        var keyed = times.enumerated().map { (time: $1, row: UInt32($0)) }
        keyed.sort { $0.time != $1.time ? $0.time < $1.time : $0.row < $1.row }
        let order = keyed.map(\.row)
        keyed = []
        times = order.map { times[Int($0)] }
        users = order.map { users[Int($0)] }
        for name in properties.keys { properties[name] = properties[name]!.permuted(order) }
        isInTimeOrder = true
    }

    /// Lets go of spare capacity once loading is done.
    mutating func shrink() {
        users = users.trimmed()
        times = times.trimmed()
        for name in properties.keys { properties[name]!.shrink() }
    }

    /// Bytes held by the columns.
    public var bytesHeld: Int {
        MemoryEstimate.bytes(of: users) + MemoryEstimate.bytes(of: times) + properties.values.reduce(0) { $0 + $1.bytesHeld }
            + MemoryEstimate.dictionaryBytes(count: properties.count, entry: 16 + MemoryLayout<PropertyColumn>.stride)
    }
}
