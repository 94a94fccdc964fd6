import SegmentStore
import Synchronization

/// Segments' stored members as refreshes over one loaded state last read or
/// wrote them, each with the ``MemberState`` it was at: a refresh whose segment
/// (or referenced segment) is still at that state uses the bitmap instead of
/// reading every member again, which at a million users cost more than the
/// evaluation itself.
///
/// A bitmap is kept only for a state that was committed with exactly those
/// members: read in one statement with its state, or written by a refresh whose
/// transaction committed. Every membership write moves the state (a new
/// version), and erasing a user lowers the size, so a kept bitmap is never
/// taken for a changed set. Bounded by bytes; when full it starts over.
public final class StoredMembers: Sendable {
    private struct Entry {
        let state: MemberState
        let members: MemberBitmap
    }

    private struct Kept {
        var entries: [String: Entry] = [:]
        var bytes = 0
        var hits = 0
    }

    private let kept = Mutex(Kept())
    /// Bytes of bitmaps kept at most.
    public let maxBytes: Int

    public init(maxBytes: Int = 128 << 20) {
        self.maxBytes = maxBytes
    }

    /// The segment's members if kept at `state`.
    public func members(of segment: String, at state: MemberState) -> MemberBitmap? {
        kept.withLock { kept in
            guard let entry = kept.entries[segment], entry.state == state else { return nil }
            kept.hits += 1
            return entry.members
        }
    }

    /// Keeps `members` as the segment's at `state` (committed).
    public func keep(_ members: MemberBitmap, of segment: String, at state: MemberState) {
        kept.withLock { kept in
            if let old = kept.entries.removeValue(forKey: segment) { kept.bytes -= old.members.bytesHeld }
            if kept.bytes + members.bytesHeld > maxBytes {
                kept.entries = [:]
                kept.bytes = 0
            }
            kept.entries[segment] = Entry(state: state, members: members)
            kept.bytes += members.bytesHeld
        }
    }

    /// Lookups answered so far.
    public var hits: Int { kept.withLock { $0.hits } }

    /// Bytes of the bitmaps kept.
    public var bytesHeld: Int { kept.withLock { $0.bytes } }
}
