import Foundation

/// Ranges of equal, round width (…, 0 to 20, 20 to 40 or 0.25 to 0.5) covering a
/// number attribute's values among a segment's members: a breakdown people read
/// at a glance, where a list of distinct numbers would not say anything.
public struct BreakdownRanges: Sendable, Equatable {
    /// The lower bound of the first range.
    public var start: Double
    /// 0 when every value is the same (one range holding just that value).
    public var width: Double
    public var count: Int

    /// About `buckets` ranges from `low` to `high` (both included): the width is
    /// the smallest of 1, 2, 2.5 and 5 times a power of ten that covers the span.
    public init(low: Double, high: Double, buckets: Int) {
        guard high > low, buckets > 0, low.isFinite, high.isFinite else {
            (start, width, count) = (low, 0, 1)
            return
        }
        let raw = (high - low) / Double(buckets)
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        width = [1, 2, 2.5, 5, 10].lazy.map { $0 * magnitude }.first { $0 >= raw * (1 - 1e-12) } ?? 10 * magnitude
        start = Self.rounded((low / width).rounded(.down) * width, to: width)
        count = max(1, Int(((high - start) / width).rounded(.up)))
    }

    /// The bounds of range `index`: the upper one is excluded, except in the last range.
    public func bounds(_ index: Int) -> (low: Double, high: Double) {
        (Self.rounded(start + Double(index) * width, to: width), Self.rounded(start + Double(index + 1) * width, to: width))
    }

    /// `10 to 20`, or the one value when every member has the same.
    public func label(_ index: Int) -> String {
        guard width > 0 else { return Self.text(start) }
        let (low, high) = bounds(index)
        return "\(Self.text(low)) to \(Self.text(high))"
    }

    /// `value` rounded to the decimals `width` has, so 3 × 0.1 reads 0.3.
    static func rounded(_ value: Double, to width: Double) -> Double {
        guard width > 0 else { return value }
        let decimals = max(0, 1 - Int(log10(width).rounded(.down)))
        let scale = pow(10, Double(decimals))
        return (value * scale).rounded() / scale
    }

    /// Whole numbers without a fraction, others in their shortest form.
    static func text(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
