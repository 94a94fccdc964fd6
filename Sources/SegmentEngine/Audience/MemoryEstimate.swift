/// Approximate bytes held by the engine's containers, for the memory budget and
/// the bytes-per-event figures: array capacity times stride, string bytes that
/// live on the heap, and hash tables at their load factor. An estimate (no
/// allocator overhead), but the same one everywhere, so tenants compare.
enum MemoryEstimate {
    /// Bytes of an array's storage (its capacity, not its count).
    static func bytes<Element>(of array: [Element]) -> Int {
        array.capacity * MemoryLayout<Element>.stride
    }

    /// UTF-8 bytes a string keeps on the heap: none up to 15 bytes (stored inline).
    static func heapBytes(of string: String) -> Int {
        let count = string.utf8.count
        return count <= 15 ? 0 : count + 32
    }

    /// A hash table of `count` entries of `entry` bytes, kept at most 3/4 full.
    static func dictionaryBytes(count: Int, entry: Int) -> Int {
        guard count > 0 else { return 0 }
        var buckets = 1
        while buckets * 3 < count * 4 { buckets *= 2 }
        return buckets * (entry + 1)
    }
}
