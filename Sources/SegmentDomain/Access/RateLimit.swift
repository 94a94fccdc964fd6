/// A token-bucket rate: `perSecond` calls on average, up to `burst` at once.
public struct RateLimit: Sendable, Equatable {
    public var perSecond: Double
    public var burst: Double

    public init(perSecond: Double, burst: Double) {
        self.perSecond = perSecond
        self.burst = max(1, burst)
    }

    /// `perSecond` with a burst of twice that (the form the configuration keys set); nil when 0 (off).
    public static func perSecond(_ rate: Int) -> RateLimit? {
        rate > 0 ? RateLimit(perSecond: Double(rate), burst: Double(rate * 2)) : nil
    }
}
