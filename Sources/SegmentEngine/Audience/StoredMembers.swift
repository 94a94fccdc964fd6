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
    private struct Kept {
        var members: BoundedBitmaps<String, MemberState>
        var hits = 0
    }

    private let kept: Mutex<Kept>

    public init(maxBytes: Int = 128 << 20) {
        kept = Mutex(Kept(members: BoundedBitmaps(maxBytes: maxBytes)))
    }

    /// The segment's members if kept at `state`.
    public func members(of segment: String, at state: MemberState) -> MemberBitmap? {
        kept.withLock { kept in
            let members = kept.members.bitmap(for: segment, tag: state)
            if members != nil { kept.hits += 1 }
            return members
        }
    }

    /// Keeps `members` as the segment's at `state` (committed).
    public func keep(_ members: MemberBitmap, of segment: String, at state: MemberState) {
        kept.withLock { $0.members.keep(members, for: segment, tag: state) }
    }

    /// Lookups answered so far.
    public var hits: Int { kept.withLock { $0.hits } }

    /// Bytes of the bitmaps kept.
    public var bytesHeld: Int { kept.withLock { $0.members.bytes } }
}
