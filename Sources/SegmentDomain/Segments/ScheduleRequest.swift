/// A schedule as a request gives it: the tenant's time zone fills in a daily
/// schedule without one, and no schedule at all means daily at 03:00 there.
public struct ScheduleRequest: Sendable {
    public enum Cadence: Sendable {
        case manual
        case everyHours(Int)
        /// Daily at `hour:minute` in `timeZone`, or in the tenant's zone when nil.
        case daily(hour: Int, minute: Int, timeZone: String?)
    }

    /// Nil: the default (daily at 03:00 in the tenant's zone).
    public var cadence: Cadence?
    public var afterDependencies: Bool

    public init(cadence: Cadence?, afterDependencies: Bool = false) {
        self.cadence = cadence
        self.afterDependencies = afterDependencies
    }
}
