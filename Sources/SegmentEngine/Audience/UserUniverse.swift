import SegmentDomain
import SegmentStore

/// The tenant's users: which indexes are live, and the external id of each.
///
/// Indexes are dense but not gap-free (a deleted user's index is never reused;
/// a failed batch can leave a reserved index unused), so `live` is the
/// universe `not` and "did not …" complement against: a user who does not
/// exist is never a member of anything.
public struct UserUniverse: Sendable {
    /// Indexes of users that exist.
    public private(set) var live = MemberBitmap()
    /// External id by index ("" for indexes that are not live).
    public private(set) var externalIDs: [String] = []
    private var indexes: [UTF8Key: UInt32] = [:]
    private var heapBytes = 0

    public init() {}

    /// One past the largest index: the rows of per-user columns.
    public var capacity: Int { externalIDs.count }

    /// How many users exist.
    public var count: Int { indexes.count }

    /// The index of the user with `externalID` (compared by bytes), if live.
    public func index(of externalID: String) -> UInt32? { indexes[UTF8Key(externalID)] }

    /// The external id of `index`, if live.
    public func externalID(of index: UInt32) -> String? {
        live.contains(index) ? externalIDs[Int(index)] : nil
    }

    mutating func append(_ batch: AudienceRows.Users) throws {
        for (index, externalID) in zip(batch.indexes, batch.externalIDs) {
            guard Int(index) >= externalIDs.count else { throw DomainError(.internalError, "users arrived out of index order") }
            externalIDs.append(contentsOf: repeatElement("", count: Int(index) - externalIDs.count))
            externalIDs.append(externalID)
            indexes[UTF8Key(externalID)] = index
            live.insert(index)
            heapBytes += MemoryEstimate.heapBytes(of: externalID)
        }
    }

    mutating func shrink() {
        externalIDs = externalIDs.trimmed()
        live.trim()
    }

    public var bytesHeld: Int {
        live.bytesHeld + MemoryEstimate.bytes(of: externalIDs) + heapBytes
            + MemoryEstimate.dictionaryBytes(count: indexes.count, entry: MemoryLayout<UTF8Key>.stride + MemoryLayout<UInt32>.stride)
    }
}
