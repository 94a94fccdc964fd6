import Foundation

extension MemberSetCache {
    /// One segment's members with when each entered, held compactly for
    /// membership checks: a bitmap with a rank per 64 users when the set is dense
    /// (about 0.19 bytes per user of the tenant), a sorted `UInt32` array when it is
    /// sparse (4 bytes a member), whichever is smaller; and the entry times
    /// dictionary-coded, since a refresh enters all its users at one instant (2
    /// bytes a member while a set has at most 65,536 distinct entry times, and 8
    /// per distinct time). Typically 2–6 bytes a member, at most 16 (every member
    /// entering at its own instant), where sorted `Int64` indexes with a `Date`
    /// each took 16 always.
    struct MemberSet: Sendable {
        private enum Positions: Sendable {
            /// Member indexes in order.
            case sparse([UInt32])
            /// Bit `i` set for member `i`; `ranks[w]` counts the members before word `w`.
            case dense(words: [UInt64], ranks: [UInt32])
        }

        private enum Codes: Sendable {
            case narrow([UInt16])
            case wide([UInt32])

            subscript(position: Int) -> Int {
                switch self {
                case .narrow(let codes): return Int(codes[position])
                case .wide(let codes): return Int(codes[position])
                }
            }
        }

        /// How many members.
        let count: Int
        let loadedAt: ContinuousClock.Instant
        private let positions: Positions
        /// Distinct entry times; each member's code (in index order) points here.
        private let times: [Date]
        private let codes: Codes

        /// A set from members sorted by index with their entry times; nil when an index
        /// does not fit in 32 bits (such a set is answered by the database).
        init?(indexes: [Int64], entered: [Date], loadedAt: ContinuousClock.Instant) {
            guard indexes.count == entered.count, indexes.allSatisfy({ $0 >= 0 && $0 <= Int64(UInt32.max) }) else { return nil }
            count = indexes.count
            self.loadedAt = loadedAt
            let capacity = Int(indexes.last ?? -1) + 1
            let words = (capacity + 63) / 64
            if words * (8 + 4) < indexes.count * 4 {
                var bits = [UInt64](repeating: 0, count: words)
                for index in indexes { bits[Int(index) >> 6] |= 1 << UInt64(index & 63) }
                var ranks = [UInt32](repeating: 0, count: words)
                var running: UInt32 = 0
                for word in 0..<words {
                    ranks[word] = running
                    running += UInt32(bits[word].nonzeroBitCount)
                }
                positions = .dense(words: bits, ranks: ranks)
            } else {
                positions = .sparse(indexes.map { UInt32($0) })
            }
            var distinct: [Date: UInt32] = [:]
            var times: [Date] = []
            let memberCodes = entered.map { time in
                if let code = distinct[time] { return code }
                let code = UInt32(times.count)
                distinct[time] = code
                times.append(time)
                return code
            }
            self.times = times
            codes = times.count <= Int(UInt16.max) + 1 ? .narrow(memberCodes.map { UInt16($0) }) : .wide(memberCodes)
        }

        /// When the user entered, or nil when not a member.
        func enteredAt(_ index: Int64) -> Date? {
            guard index >= 0, index <= Int64(UInt32.max), let position = position(of: UInt32(index)) else { return nil }
            return times[codes[position]]
        }

        /// The member's place in index order.
        private func position(of index: UInt32) -> Int? {
            switch positions {
            case .sparse(let indexes):
                var low = 0
                var high = indexes.count
                while low < high {
                    let middle = (low + high) / 2
                    if indexes[middle] < index { low = middle + 1 } else { high = middle }
                }
                return low < indexes.count && indexes[low] == index ? low : nil
            case .dense(let words, let ranks):
                let word = Int(index >> 6)
                guard word < words.count else { return nil }
                let bit = UInt64(1) << UInt64(index & 63)
                guard words[word] & bit != 0 else { return nil }
                return Int(ranks[word]) + (words[word] & (bit - 1)).nonzeroBitCount
            }
        }

        /// Approximate bytes held.
        var bytesHeld: Int {
            let positionBytes: Int
            switch positions {
            case .sparse(let indexes): positionBytes = indexes.count * 4
            case .dense(let words, let ranks): positionBytes = words.count * 8 + ranks.count * 4
            }
            let codeBytes: Int
            switch codes {
            case .narrow(let codes): codeBytes = codes.count * 2
            case .wide(let codes): codeBytes = codes.count * 4
            }
            return positionBytes + codeBytes + times.count * 8
        }
    }
}
