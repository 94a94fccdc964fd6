import SegmentEngine
import SegmentdClient
import Testing

/// The bitmap against `Set<UInt32>` as the reference, on random sets of
/// different lengths and on the word edges (0, 63, 64, 127, 128).
@Suite("MemberBitmap: dense member sets agree with Set<UInt32>")
struct MemberBitmapTests {
    static func randomSet(_ random: inout SplitMix64, below limit: UInt64, count: Int) -> Set<UInt32> {
        Set((0..<count).map { _ in UInt32(random.next() % limit) })
    }

    @Test("insert, remove, contains, count, last and in-order iteration")
    func elements() {
        var bitmap = MemberBitmap()
        #expect(bitmap.isEmpty)
        #expect(bitmap.last == nil)
        for index: UInt32 in [128, 0, 63, 64, 127, 64] { bitmap.insert(index) }
        #expect(Array(bitmap) == [0, 63, 64, 127, 128])
        #expect(bitmap.count == 5)
        #expect(bitmap.last == 128)
        #expect(bitmap.contains(63) && bitmap.contains(64) && !bitmap.contains(65) && !bitmap.contains(1_000_000))
        #expect(bitmap.insert(5) == true)
        #expect(bitmap.insert(5) == false)
        #expect(bitmap.remove(5) == true)
        #expect(bitmap.remove(5) == false)
        #expect(bitmap.remove(99_999) == false)
        bitmap.remove(128)
        #expect(bitmap.last == 127)
        #expect(MemberBitmap([3, 1, 2, 1]) == MemberBitmap([1, 2, 3]))
    }

    @Test("union, intersection and difference match Set algebra, in place and returning, across lengths")
    func algebra() {
        var random = SplitMix64(seed: 17)
        for round in 0..<200 {
            let a = Self.randomSet(&random, below: UInt64(1 + round * 37), count: Int(random.next() % 300))
            let b = Self.randomSet(&random, below: UInt64(1 + (200 - round) * 29), count: Int(random.next() % 300))
            let x = MemberBitmap(a)
            let y = MemberBitmap(b)
            #expect(Set(x.union(y)) == a.union(b))
            #expect(Set(x.intersection(y)) == a.intersection(b))
            #expect(Set(x.subtracting(y)) == a.subtracting(b))
            #expect(Set(y.subtracting(x)) == b.subtracting(a))
            var z = x
            z.formUnion(y)
            #expect(z == MemberBitmap(a.union(b)))
            z = x
            z.formIntersection(y)
            #expect(z == MemberBitmap(a.intersection(b)))
            #expect(z.count == a.intersection(b).count)
            z = x
            z.subtract(y)
            #expect(z == MemberBitmap(a.subtracting(b)))
            #expect(Array(x) == a.sorted())
        }
    }

    @Test("complement within a universe of live users, and below a count")
    func complement() {
        let universe = MemberBitmap([0, 1, 2, 4, 5, 64, 200])  // 3 and 6…63 are not users
        let members = MemberBitmap([1, 5, 64, 300])
        #expect(Array(members.complement(in: universe)) == [0, 2, 4, 200])
        #expect(Array(MemberBitmap([1, 63]).complement(below: 65)) == (0..<65).filter { $0 != 1 && $0 != 63 }.map(UInt32.init))
        #expect(MemberBitmap.all(below: 0).isEmpty)
        #expect(MemberBitmap.all(below: 64).count == 64)
        #expect(MemberBitmap.all(below: 130).count == 130)
        #expect(MemberBitmap.all(below: 130).last == 129)
        #expect(MemberBitmap().complement(below: 3) == MemberBitmap([0, 1, 2]))
    }

    @Test("equality and hashing ignore trailing empty words")
    func equality() {
        var long = MemberBitmap([1, 1000])
        long.remove(1000)
        let short = MemberBitmap([1])
        #expect(long == short)
        #expect(long.hashValue == short.hashValue)
        #expect(Set([long, short]).count == 1)
        #expect(MemberBitmap([1]) != MemberBitmap([2]))
        #expect(MemberBitmap() == MemberBitmap([5]).subtracting(MemberBitmap([5])))
        #expect(MemberBitmap([1, 2]).intersection(MemberBitmap([1, 2, 5000])) == MemberBitmap([1, 2]))
    }
}
