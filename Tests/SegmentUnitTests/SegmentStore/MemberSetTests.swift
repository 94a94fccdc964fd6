import Foundation
import SegmentdClient
import Testing

@testable import SegmentStore

@Suite("Member sets for membership checks: compact, and the same answers as the sorted lists they replace")
struct MemberSetTests {
    typealias MemberSet = MemberSetCache.MemberSet

    /// Members drawn with `density` out of `users` indexes; entry times from a few refreshes, or one per member.
    static func members(seed: UInt64, users: Int, density: Double, distinctTimes: Bool) -> (indexes: [Int64], entered: [Date]) {
        var random = SplitMix64(seed: seed)
        var indexes: [Int64] = []
        var entered: [Date] = []
        for index in 0..<users where random.unit() < density {
            indexes.append(Int64(index))
            entered.append(
                Date(
                    timeIntervalSince1970: distinctTimes
                        ? 1_790_000_000 + Double(index) / 1_000_000 : 1_790_000_000 + Double(random.next() % 5) * 3600))
        }
        return (indexes, entered)
    }

    @Test(
        "every index answers as a binary search of the sorted list would, dense or sparse, few or many entry times",
        arguments: [(0.4, false), (0.02, false), (0.0005, false), (0.3, true), (1.0, false)])
    func answers(density: Double, distinctTimes: Bool) throws {
        let (indexes, entered) = Self.members(seed: 42, users: 100_000, density: density, distinctTimes: distinctTimes)
        let set = try #require(MemberSet(indexes: indexes, entered: entered, loadedAt: .now))
        #expect(set.count == indexes.count)
        let expected = Dictionary(uniqueKeysWithValues: zip(indexes, entered))
        for index in Int64(-2)..<100_070 {
            #expect(set.enteredAt(index) == expected[index], "index \(index)")
        }
        #expect(set.enteredAt(Int64(UInt32.max) + 5) == nil)
        // Never more than the 16 bytes a member it replaces; far less in the usual case.
        #expect(set.bytesHeld <= max(16 * indexes.count, 64))
        if !distinctTimes { #expect(set.bytesHeld <= 6 * indexes.count + 64, "\(set.bytesHeld) bytes for \(indexes.count) members") }
    }

    @Test("an empty set, and an index past 32 bits (answered by the database instead)")
    func edges() {
        let empty = MemberSet(indexes: [], entered: [], loadedAt: .now)
        #expect(empty?.count == 0 && empty?.enteredAt(0) == nil)
        #expect(MemberSet(indexes: [1, Int64(UInt32.max) + 1], entered: [Date(), Date()], loadedAt: .now) == nil)
    }

    @Test(
        "a set made from a bitmap's words answers as one made from the sorted list, and gives the same words back",
        arguments: [0.4, 0.02, 0.0005, 0.0])
    func fromWords(density: Double) throws {
        let (indexes, entered) = Self.members(seed: 7, users: 10_000, density: density, distinctTimes: false)
        var words = [UInt64](repeating: 0, count: 10_000 / 64 + 3)  // trailing zero words, as a bitmap may have
        for index in indexes { words[Int(index) >> 6] |= 1 << UInt64(index & 63) }
        let times = Dictionary(uniqueKeysWithValues: zip(indexes, entered))
        var asked: [UInt32] = []
        let set = MemberSet(words: words, loadedAt: .now, state: MemberState(version: 2, size: Int64(indexes.count))) { index in
            asked.append(index)
            return times[Int64(index)]!
        }
        #expect(asked == indexes.map { UInt32($0) }, "entry times asked once each, in index order")
        let listed = try #require(MemberSet(indexes: indexes, entered: entered, loadedAt: .now))
        #expect(set.count == indexes.count && set.state == MemberState(version: 2, size: Int64(indexes.count)))
        for index in Int64(0)..<10_100 { #expect(set.enteredAt(index) == listed.enteredAt(index)) }
        let back = set.words
        let used = (back.lastIndex { $0 != 0 } ?? -1) + 1
        #expect(Array(back[0..<used]) == Array(words[0..<used]) && back[used...].allSatisfy { $0 == 0 })
        #expect(set.bytesHeld <= max(6 * indexes.count + 64, 8 * words.count + 4 * words.count + 64))
    }
}
