import Foundation
import NIOCore
import PostgresNIO

/// A one-dimensional PostgreSQL array in the binary protocol format, read
/// element by element without an object per element.
///
/// The audience load reads each chunk of rows as one row of `array_agg`
/// columns: PostgreSQL sends one message instead of one per row, and Swift
/// walks a buffer in a loop instead of awaiting each row (perf on the
/// row-by-row load: most of segmentd's time was the per-row async iteration,
/// retains and releases, not the values). NULL elements are kept as `nil`,
/// which PostgresNIO's own array decoding does not allow.
///
/// The format: dimensions, a has-NULL flag, the element type's OID, then per
/// dimension its length and lower bound, then per element a 32-bit length
/// (-1 for NULL) and that many bytes.
struct ArrayColumn: PostgresDecodable {
    /// The elements' bytes, starting at the first element's length.
    private let elements: ByteBuffer
    /// The element type.
    let elementType: PostgresDataType
    /// How many elements.
    let count: Int

    init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard format == .binary, let dimensions = buffer.readInteger(as: Int32.self), buffer.readInteger(as: Int32.self) != nil,
            let element = buffer.readInteger(as: UInt32.self)
        else { throw PostgresDecodingError.Code.failure }
        elementType = PostgresDataType(element)
        switch dimensions {
        case 0:
            count = 0
        case 1:
            guard let length = buffer.readInteger(as: Int32.self), length >= 0, buffer.readInteger(as: Int32.self) != nil else {
                throw PostgresDecodingError.Code.failure
            }
            count = Int(length)
        default:
            throw PostgresDecodingError.Code.failure
        }
        elements = buffer.slice()
    }

    /// Calls `body` with each element's bytes (nil for NULL), in order.
    func forEach(_ body: (inout ByteBuffer?) throws -> Void) throws {
        var buffer = elements
        for _ in 0..<count {
            guard let length = buffer.readInteger(as: Int32.self) else { throw PostgresDecodingError.Code.failure }
            if length < 0 {
                var none: ByteBuffer? = nil
                try body(&none)
            } else {
                guard var bytes: ByteBuffer? = buffer.readSlice(length: Int(length)) else { throw PostgresDecodingError.Code.failure }
                try body(&bytes)
            }
        }
    }

    private func expect(_ type: PostgresDataType) throws {
        guard elementType == type || count == 0 else { throw PostgresDecodingError.Code.typeMismatch }
    }

    /// `bigint[]` without NULLs.
    func int64s() throws -> [Int64] {
        try expect(.int8)
        var values: [Int64] = []
        values.reserveCapacity(count)
        try forEach { bytes in
            guard let value = bytes?.readInteger(as: Int64.self) else { throw PostgresDecodingError.Code.failure }
            values.append(value)
        }
        return values
    }

    /// `timestamptz[]` as microseconds since 1970 (``AudienceTime``), NULL as nil.
    func times() throws -> [Int64?] {
        try expect(.timestamptz)
        var values: [Int64?] = []
        values.reserveCapacity(count)
        try forEach { bytes in
            if bytes == nil {
                values.append(nil)
            } else {
                guard let raw = bytes!.readInteger(as: Int64.self) else { throw PostgresDecodingError.Code.failure }
                values.append(raw + AudienceTime.postgresEpoch)
            }
        }
        return values
    }

    /// `float8[]`, NULL as nil.
    func doubles() throws -> [Double?] {
        try expect(.float8)
        var values: [Double?] = []
        values.reserveCapacity(count)
        try forEach { bytes in
            if bytes == nil {
                values.append(nil)
            } else {
                guard let raw = bytes!.readInteger(as: UInt64.self) else { throw PostgresDecodingError.Code.failure }
                values.append(Double(bitPattern: raw))
            }
        }
        return values
    }

    /// `boolean[]`, NULL as nil.
    func bools() throws -> [Bool?] {
        try expect(.bool)
        var values: [Bool?] = []
        values.reserveCapacity(count)
        try forEach { bytes in
            if bytes == nil {
                values.append(nil)
            } else {
                guard let raw = bytes!.readInteger(as: UInt8.self) else { throw PostgresDecodingError.Code.failure }
                values.append(raw != 0)
            }
        }
        return values
    }

    /// `text[]`, NULL as nil.
    func strings() throws -> [String?] {
        try expect(.text)
        var values: [String?] = []
        values.reserveCapacity(count)
        try forEach { bytes in
            values.append(bytes.map { String(buffer: $0) })
        }
        return values
    }

    /// `bytea[]` whose elements are lists of strings, each item followed by a NUL byte
    /// (``AudienceSource``'s reading of a string-list value; text never holds NUL), NULL as nil.
    func stringLists() throws -> [[String]?] {
        try expect(.bytea)
        var values: [[String]?] = []
        values.reserveCapacity(count)
        try forEach { bytes in
            guard let bytes else { return values.append(nil) }
            var items: [String] = []
            bytes.withUnsafeReadableBytes { raw in
                var start = 0
                for (offset, byte) in raw.enumerated() where byte == 0 {
                    items.append(String(decoding: UnsafeRawBufferPointer(rebasing: raw[start..<offset]), as: UTF8.self))
                    start = offset + 1
                }
            }
            values.append(items)
        }
        return values
    }
}

/// A `timestamptz` bound as exact microseconds since 1970 (``AudienceTime``), not through `Date`.
struct MicrosecondsBind: PostgresNonThrowingEncodable {
    let value: Int64
    static var psqlType: PostgresDataType { .timestamptz }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(value - AudienceTime.postgresEpoch)
    }
}
