/// Bitmaps by key, each kept with a tag it is valid for, within a byte bound:
/// when the next would not fit, everything is dropped and it starts over (a
/// miss only costs the work the bitmap saved). ``ConditionMemo``'s bookkeeping,
/// which wraps it in a mutex.
struct BoundedBitmaps<Key: Hashable, Tag: Equatable> {
    private var entries: [Key: (tag: Tag, bitmap: MemberBitmap)] = [:]
    /// Bytes of the bitmaps kept.
    private(set) var bytes = 0
    let maxBytes: Int

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    /// The bitmap kept for `key` if it was kept with `tag`.
    func bitmap(for key: Key, tag: Tag) -> MemberBitmap? {
        guard let entry = entries[key], entry.tag == tag else { return nil }
        return entry.bitmap
    }

    /// Keeps `bitmap` for `key`, valid for `tag`, replacing what was kept for it.
    mutating func keep(_ bitmap: MemberBitmap, for key: Key, tag: Tag) {
        if let old = entries.removeValue(forKey: key) { bytes -= old.bitmap.bytesHeld }
        if bytes + bitmap.bytesHeld > maxBytes {
            entries = [:]
            bytes = 0
        }
        entries[key] = (tag, bitmap)
        bytes += bitmap.bytesHeld
    }
}
