import Foundation
import SwiftProtobuf

/// The resource a refused call was aimed at, for its audit entry.
///
/// By the contract's convention field 1 of every request names its target (`name`,
/// `parent`, `segment`, `session`, `tenant_id`), or is the resource itself
/// (`UpdateSegmentRequest.segment`), whose field 1 is its name. Reading field 1 by
/// number stops at the first field, so a refused batch of 10,000 events costs nothing
/// to inspect.
enum RequestTarget {
    /// The most of a client's text an entry keeps.
    static let maximumLength = 512

    /// The target named by `message`'s field 1, or empty when it has none.
    static func of(_ message: Any) -> String {
        guard let message = message as? any SwiftProtobuf.Message else { return "" }
        var visitor = FirstField(nested: false)
        try? message.traverse(visitor: &visitor)
        return String((visitor.value ?? "").prefix(maximumLength))
    }
}

/// Reads field 1 when it is a string, or the string field 1 of a message in field 1;
/// any field visited stops the walk (by throwing), so nothing after it is read.
private struct FirstField: Visitor {
    struct Stop: Error {}
    let nested: Bool
    var value: String?

    mutating func visitSingularStringField(value: String, fieldNumber: Int) throws {
        if fieldNumber == 1 { self.value = value }
        throw Stop()
    }

    mutating func visitSingularMessageField<M: Message>(value: M, fieldNumber: Int) throws {
        if fieldNumber == 1 && !nested {
            var inner = FirstField(nested: true)
            try? value.traverse(visitor: &inner)
            self.value = inner.value
        }
        throw Stop()
    }

    mutating func visitSingularDoubleField(value: Double, fieldNumber: Int) throws { throw Stop() }
    mutating func visitSingularInt64Field(value: Int64, fieldNumber: Int) throws { throw Stop() }
    mutating func visitSingularUInt64Field(value: UInt64, fieldNumber: Int) throws { throw Stop() }
    mutating func visitSingularBoolField(value: Bool, fieldNumber: Int) throws { throw Stop() }
    mutating func visitSingularBytesField(value: Data, fieldNumber: Int) throws { throw Stop() }
    mutating func visitSingularEnumField<E: Enum>(value: E, fieldNumber: Int) throws { throw Stop() }
    mutating func visitRepeatedMessageField<M: Message>(value: [M], fieldNumber: Int) throws { throw Stop() }
    mutating func visitRepeatedStringField(value: [String], fieldNumber: Int) throws { throw Stop() }
    mutating func visitMapField<KeyType, ValueType: MapValueType>(
        fieldType: _ProtobufMap<KeyType, ValueType>.Type, value: _ProtobufMap<KeyType, ValueType>.BaseType, fieldNumber: Int
    ) throws { throw Stop() }
    mutating func visitMapField<KeyType, ValueType>(
        fieldType: _ProtobufEnumMap<KeyType, ValueType>.Type, value: _ProtobufEnumMap<KeyType, ValueType>.BaseType, fieldNumber: Int
    ) throws where ValueType.RawValue == Int { throw Stop() }
    mutating func visitMapField<KeyType, ValueType>(
        fieldType: _ProtobufMessageMap<KeyType, ValueType>.Type, value: _ProtobufMessageMap<KeyType, ValueType>.BaseType, fieldNumber: Int
    ) throws { throw Stop() }
    mutating func visitUnknown(bytes: Data) throws { throw Stop() }
}
