/// A string compared and hashed by its UTF-8 bytes.
///
/// Swift's `String ==` is Unicode canonical equivalence ("é" equals "e\u{301}"),
/// but rules compare strings by their bytes, as PostgreSQL does. Every map the
/// engine keys by user data (string dictionaries, external ids, campaign ids)
/// uses this key, so two spellings never share a code.
public struct UTF8Key: Hashable, Sendable, CustomStringConvertible {
    /// The string as received.
    public let string: String

    public init(_ string: String) {
        self.string = string
    }

    public static func == (lhs: UTF8Key, rhs: UTF8Key) -> Bool {
        lhs.string.hasSameBytes(as: rhs.string)
    }

    public func hash(into hasher: inout Hasher) {
        var text = string
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(text.utf8.count)
    }

    public var description: String { string }
}
