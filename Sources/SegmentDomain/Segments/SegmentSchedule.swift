import Foundation

/// When a segment refreshes on its own.
public struct SegmentSchedule: Sendable, Equatable, Codable {
    public enum Cadence: Sendable, Equatable {
        /// Only on demand.
        case manual
        /// Every N hours (1-168).
        case everyHours(Int)
        /// Daily at a time of day (`03:00`) in an IANA time zone.
        case daily(hour: Int, minute: Int, timeZone: String)
    }

    public var cadence: Cadence
    /// Also refresh after a referenced segment refreshes.
    public var afterDependencies: Bool

    public init(cadence: Cadence, afterDependencies: Bool = false) {
        self.cadence = cadence
        self.afterDependencies = afterDependencies
    }

    /// Daily at 03:00 in `timeZone`: the default, as in the product Segmentd replaces.
    public static func defaultDaily(timeZone: String) -> SegmentSchedule {
        SegmentSchedule(cadence: .daily(hour: 3, minute: 0, timeZone: timeZone))
    }

    /// Checks ranges and the zone; the message starts with the field.
    public func validated() throws -> SegmentSchedule {
        switch cadence {
        case .manual: break
        case .everyHours(let hours):
            guard (1...168).contains(hours) else { throw DomainError.invalid("schedule.every_hours", "1-168") }
        case .daily(let hour, let minute, let zone):
            guard (0..<24).contains(hour), (0..<60).contains(minute) else {
                throw DomainError.invalid("schedule.daily.time_of_day", "HH:MM, 00:00-23:59")
            }
            guard TimeZone(identifier: zone) != nil else {
                throw DomainError.invalid("schedule.daily.time_zone", "'\(zone)' is not an IANA time zone")
            }
        }
        return self
    }

    /// The first scheduled run strictly after `date`; nil for manual.
    public func next(after date: Date) -> Date? {
        switch cadence {
        case .manual: return nil
        case .everyHours(let hours): return date.addingTimeInterval(Double(hours) * 3600)
        case .daily(let hour, let minute, let zone):
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: zone) ?? TimeZone(identifier: "UTC")!
            return calendar.nextDate(
                after: date, matching: DateComponents(hour: hour, minute: minute, second: 0), matchingPolicy: .nextTime)
        }
    }

    // MARK: Stored form

    private enum Keys: String, CodingKey {
        case cadence, hours, time, zone
        case afterDependencies = "after_dependencies"
    }

    public init(from decoder: any Swift.Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        afterDependencies = try container.decodeIfPresent(Bool.self, forKey: .afterDependencies) ?? false
        switch try container.decode(String.self, forKey: .cadence) {
        case "every_hours": cadence = .everyHours(try container.decode(Int.self, forKey: .hours))
        case "daily":
            let time = try container.decode(String.self, forKey: .time).split(separator: ":").compactMap { Int($0) }
            cadence = .daily(hour: time.first ?? 3, minute: time.count > 1 ? time[1] : 0, timeZone: try container.decode(String.self, forKey: .zone))
        default: cadence = .manual
        }
    }

    public func encode(to encoder: any Swift.Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(afterDependencies, forKey: .afterDependencies)
        switch cadence {
        case .manual: try container.encode("manual", forKey: .cadence)
        case .everyHours(let hours):
            try container.encode("every_hours", forKey: .cadence)
            try container.encode(hours, forKey: .hours)
        case .daily(let hour, let minute, let zone):
            try container.encode("daily", forKey: .cadence)
            try container.encode(String(format: "%02d:%02d", hour, minute), forKey: .time)
            try container.encode(zone, forKey: .zone)
        }
    }

    package var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? #"{"cadence":"manual"}"#
    }

    /// The stored form as a structured audit value, so the log holds an object, not JSON text in a string.
    package var auditValue: AuditValue {
        var fields: [String: AuditValue] = ["after_dependencies": .bool(afterDependencies)]
        switch cadence {
        case .manual: fields["cadence"] = .string("manual")
        case .everyHours(let hours):
            fields["cadence"] = .string("every_hours")
            fields["hours"] = .number(Double(hours))
        case .daily(let hour, let minute, let zone):
            fields["cadence"] = .string("daily")
            fields["time"] = .string(String(format: "%02d:%02d", hour, minute))
            fields["zone"] = .string(zone)
        }
        return .object(fields)
    }

    package static func decode(_ json: String) -> SegmentSchedule {
        (try? JSONDecoder().decode(SegmentSchedule.self, from: Data(json.utf8))) ?? SegmentSchedule(cadence: .manual)
    }
}
