import SegmentDomain
import Testing

@Suite("Breakdown ranges: round bounds people read at a glance")
struct BreakdownRangesTests {
    @Test func widthsAreOneTwoTwoAndAHalfOrFiveTimesAPowerOfTen() {
        let ages = BreakdownRanges(low: 18, high: 67, buckets: 5)
        #expect(ages.start == 10 && ages.width == 10 && ages.count == 6)
        #expect((0..<ages.count).map(ages.label) == ["10 to 20", "20 to 30", "30 to 40", "40 to 50", "50 to 60", "60 to 70"])
        let two = BreakdownRanges(low: 18, high: 67, buckets: 2)
        #expect(two.width == 25 && two.start == 0 && two.count == 3)
        let amounts = BreakdownRanges(low: 0, high: 100, buckets: 5)
        // The highest value is in the last range (its upper bound is included), not a range of its own.
        #expect(amounts.width == 20 && amounts.count == 5 && amounts.label(4) == "80 to 100")
    }

    @Test func fractionsAndNegativesReadCleanly() {
        let ratios = BreakdownRanges(low: 0.05, high: 0.93, buckets: 4)
        #expect(ratios.width == 0.25 && ratios.start == 0)
        #expect((0..<ratios.count).map(ratios.label) == ["0 to 0.25", "0.25 to 0.5", "0.5 to 0.75", "0.75 to 1"])
        let tenths = BreakdownRanges(low: 0, high: 0.9, buckets: 9)
        #expect(tenths.label(2) == "0.2 to 0.3")
        let signed = BreakdownRanges(low: -15, high: 12, buckets: 3)
        #expect(signed.width == 10 && signed.label(0) == "-20 to -10" && signed.count == 4)
    }

    @Test func oneValueIsOneRange() {
        let same = BreakdownRanges(low: 42, high: 42, buckets: 5)
        #expect(same.count == 1 && same.width == 0 && same.label(0) == "42")
    }
}
