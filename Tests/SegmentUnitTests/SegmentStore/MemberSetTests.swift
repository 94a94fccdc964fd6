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
}
