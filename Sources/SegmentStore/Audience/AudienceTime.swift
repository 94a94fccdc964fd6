import Foundation
import NIOCore
import PostgresNIO

/// Times in the audience engine: microseconds since 1970-01-01 UTC, as `Int64`.
///
/// PostgreSQL keeps `timestamptz` as whole microseconds, so an integer holds
/// every stored time exactly and compares like SQL does; a `Date` (a `Double`)
/// would round some of them. Bounds computed from a `Date` (windows, "now") go
/// through ``microseconds(_:)``, which truncates exactly as PostgresNIO does
/// when it binds a `Date`, so the engine and the SQL compiler draw every window
/// edge at the same microsecond.
public enum AudienceTime {
    /// 2000-01-01 UTC, PostgreSQL's epoch, in microseconds since 1970.
    static let postgresEpoch: Int64 = 946_684_800_000_000

    /// `date` in microseconds since 1970, as PostgreSQL receives it from a `Date` bind.
    public static func microseconds(_ date: Date) -> Int64 {
        Int64(date.timeIntervalSince(Date(timeIntervalSince1970: 946_684_800)) * 1_000_000) + postgresEpoch
    }

    /// The `Date` of a time in microseconds since 1970 (for display and the single-user evaluator).
    public static func date(_ microseconds: Int64) -> Date {
        Date(timeInterval: Double(microseconds - postgresEpoch) / 1_000_000, since: Date(timeIntervalSince1970: 946_684_800))
    }
}

/// A `timestamptz` read as its exact microseconds since 1970 (not through `Date`).
struct Microseconds: PostgresDecodable {
    let value: Int64

    init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard type == .timestamptz, format == .binary, buffer.readableBytes == 8, let raw = buffer.readInteger(as: Int64.self) else {
            throw PostgresDecodingError.Code.typeMismatch
        }
        value = raw + AudienceTime.postgresEpoch
    }
}
