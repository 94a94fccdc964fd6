import SegmentStore

/// The users holding each tag, one bitmap per tag: `has tag T` is the bitmap
/// itself, `has no tag T` its complement among the live users.
public struct TagBitmaps: Sendable {
    /// Tag id → users holding it. Tags no user holds are absent (an empty set).
    public private(set) var users: [String: MemberBitmap] = [:]

    public init() {}

    /// The users holding `tag` (empty when none).
    public subscript(tag: String) -> MemberBitmap { users[tag] ?? MemberBitmap() }

    mutating func append(_ batch: AudienceRows.Tags, live: MemberBitmap) -> Int {
        var skipped = 0
        var bitmap = users.removeValue(forKey: batch.tag) ?? MemberBitmap()
        for user in batch.users {
            if live.contains(user) { bitmap.insert(user) } else { skipped += 1 }
        }
        users[batch.tag] = bitmap
        return skipped
    }

    mutating func shrink() {
        for tag in users.keys { users[tag]!.trim() }
    }

    public var bytesHeld: Int {
        users.values.reduce(0) { $0 + $1.bytesHeld }
            + MemoryEstimate.dictionaryBytes(count: users.count, entry: 16 + MemoryLayout<MemberBitmap>.stride)
    }
}
