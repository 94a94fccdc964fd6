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
        /// The segment's membership state the set is at (nil when not known): a refresh
        /// takes the set as its current members only at exactly that state.
        let state: MemberState?
        private let positions: Positions
        /// Distinct entry times; each member's code (in index order) points here.
        private let times: [Date]
        private let codes: Codes

        /// A set from members sorted by index with their entry times; nil when an index
        /// does not fit in 32 bits (such a set is answered by the database).
        init?(indexes: [Int64], entered: [Date], loadedAt: ContinuousClock.Instant, state: MemberState? = nil) {
            guard indexes.count == entered.count, indexes.allSatisfy({ $0 >= 0 && $0 <= Int64(UInt32.max) }) else { return nil }
            let capacity = Int(indexes.last ?? -1) + 1
            let words = (capacity + 63) / 64
            let positions: Positions
            if words * (8 + 4) < indexes.count * 4 {
                var bits = [UInt64](repeating: 0, count: words)
                for index in indexes { bits[Int(index) >> 6] |= 1 << UInt64(index & 63) }
                positions = Self.dense(bits)
            } else {
                positions = .sparse(indexes.map { UInt32($0) })
            }
            self.init(positions: positions, count: indexes.count, entered: entered, loadedAt: loadedAt, state: state)
        }

        /// A set from a bitmap's words (bit `i` of word `i / 64` is user `i`), the audience
        /// engine's form: kept as they are (shared, not copied) when that is the smaller form.
        /// Each member's entry time is `enteredAt` of its index, asked in index order.
        init(words: [UInt64], loadedAt: ContinuousClock.Instant, state: MemberState?, enteredAt: (UInt32) -> Date) {
            var count = 0
            for word in words { count += word.nonzeroBitCount }
            let used = (words.lastIndex { $0 != 0 } ?? -1) + 1
            var indexes: [UInt32] = []
            var entered: [Date] = []
            indexes.reserveCapacity(count)
            entered.reserveCapacity(count)
            for (position, word) in words[0..<used].enumerated() {
                var bits = word
                while bits != 0 {
                    let index = UInt32(position * 64 + bits.trailingZeroBitCount)
                    bits &= bits &- 1
                    indexes.append(index)
                    entered.append(enteredAt(index))
                }
            }
            let positions: Positions = used * (8 + 4) < count * 4 ? Self.dense(words) : .sparse(indexes)
            self.init(positions: positions, count: count, entered: entered, loadedAt: loadedAt, state: state)
        }

        private init(positions: Positions, count: Int, entered: [Date], loadedAt: ContinuousClock.Instant, state: MemberState?) {
            self.positions = positions
            self.count = count
            self.loadedAt = loadedAt
            self.state = state
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

        /// The dense form of `words`, with the rank of each word.
        private static func dense(_ words: [UInt64]) -> Positions {
            var ranks = [UInt32](repeating: 0, count: words.count)
            var running: UInt32 = 0
            for word in words.indices {
                ranks[word] = running
                running += UInt32(words[word].nonzeroBitCount)
            }
            return .dense(words: words, ranks: ranks)
        }

        /// The members as a bitmap's words (the dense form's own, not copied; built from the sparse form).
        var words: [UInt64] {
            switch positions {
            case .dense(let words, _): return words
            case .sparse(let indexes):
                var words = [UInt64](repeating: 0, count: Int((indexes.last ?? 0) >> 6) + (indexes.isEmpty ? 0 : 1))
                for index in indexes { words[Int(index >> 6)] |= 1 << UInt64(index & 63) }
                return words
            }
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
