/// The distinct strings of one column, each with a dense `UInt32` code.
///
/// Columns hold codes instead of strings: 4 bytes a row, and a test such as
/// `currency = "EUR"` or `tier in [...]` is resolved once against the dictionary
/// (a handful of codes) and then compares integers row by row. Strings are told
/// apart by their bytes (``UTF8Key``), like the rules compare them.
public struct StringDictionary: Sendable {
    /// The code of rows that hold no string.
    public static let none = UInt32.max

    /// The strings by code.
    public private(set) var strings: [String] = []
    private var codes: [UTF8Key: UInt32] = [:]
    /// UTF-8 bytes of strings too long to live inside a `String` (over 15 bytes).
    private var heapBytes = 0

    public init() {}

    /// The code of `string`, if the column holds it.
    public func code(of string: String) -> UInt32? {
        codes[UTF8Key(string)]
    }

    /// The code of `string`, adding it when new.
    public mutating func intern(_ string: String) -> UInt32 {
        let key = UTF8Key(string)
        if let code = codes[key] { return code }
        let code = UInt32(strings.count)
        precondition(code < Self.none, "a string dictionary holds at most 2^32 - 1 strings")
        codes[key] = code
        strings.append(string)
        heapBytes += MemoryEstimate.heapBytes(of: string)
        return code
    }

    /// The string of `code`.
    public subscript(code: UInt32) -> String { strings[Int(code)] }

    /// How many distinct strings.
    public var count: Int { strings.count }

    /// Bytes held: the strings, their bytes, and the code map.
    public var bytesHeld: Int {
        MemoryEstimate.bytes(of: strings) + heapBytes
            + MemoryEstimate.dictionaryBytes(count: codes.count, entry: MemoryLayout<UTF8Key>.stride + MemoryLayout<UInt32>.stride)
    }
}
