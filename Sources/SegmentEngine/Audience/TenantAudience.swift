import Foundation
import SegmentDomain
import SegmentRules
import SegmentStore

/// One tenant's evaluation state, in memory, derived from PostgreSQL: the
/// users, every event type's columns, profile columns, tag bitmaps and campaign
/// responses, as of one database snapshot.
///
/// Plain values: a state is immutable and `Sendable`, so a refresh reads it
/// from any task without locks. Batches committed after the snapshot are
/// applied by making a new value (``applying(_:)``): the columns are shared,
/// and the users the batches touched are held whole in the ``overlay``.
public struct TenantAudience: Sendable {
    /// The tenant.
    public let tenant: TenantID
    /// Which load the columns came from (states made by ``applying(_:)`` keep it): a
    /// real-time segment whose audience was loaded again evaluates everyone again.
    public let generation = UUID()
    /// Users by index; `users.live` is the universe of `not`.
    public internal(set) var users = UserUniverse()
    /// Events by type name; a type without events has no entry. (Event, property,
    /// attribute and tag names are ASCII by ingest's rules, so `String` keys compare
    /// them exactly; user data such as values and campaign ids is keyed by bytes.)
    public internal(set) var events: [String: EventColumns] = [:]
    /// Attributes and last locations by user index.
    public internal(set) var profiles = ProfileColumns()
    /// Users by tag.
    public internal(set) var tags = TagBitmaps()
    /// Campaign responses by campaign and kind.
    public internal(set) var responses = CampaignResponses()
    /// The catalog as of the snapshot: the types every column was read with.
    public internal(set) var catalog = RuleCatalog()
    /// When the snapshot was taken (database clock): the state holds every batch committed before.
    public internal(set) var snapshotTime = Date(timeIntervalSince1970: 0)
    /// The database snapshot it was read in (`pg_snapshot` text): the state is current
    /// while every change to the tenant's data committed since is visible in it.
    public internal(set) var databaseSnapshot = ""
    /// Users changed since the columns were built, answered from their facts.
    public internal(set) var overlay = AudienceOverlay()
    /// Conditions evaluated over these columns, shared by every state made from them by ``applying(_:)``.
    public let conditions = ConditionMemo()

    public init(tenant: TenantID) {
        self.tenant = tenant
    }

    /// This state with what changed since its snapshot applied: it then holds
    /// every batch committed before `catchUp`'s snapshot.
    public func applying(_ catchUp: AudienceCatchUp) -> TenantAudience {
        var next = self
        next.overlay.apply(catchUp)
        next.snapshotTime = catchUp.takenAt
        next.databaseSnapshot = catchUp.databaseSnapshot
        return next
    }

    /// Appends a batch that committed after the snapshot to the users the overlay holds
    /// (``AudienceOverlay/append(_:newUsers:)``) and returns those users. The snapshot stays:
    /// the state does not hold the batch's other users yet.
    mutating func append(_ committed: CommittedEvents) -> [UInt32] {
        // A created user is new to the columns too (their snapshot does not see the batch); checked, not assumed.
        let created = committed.newUsers.filter { index, _ in users.externalID(of: index) == nil }
        return overlay.append(committed.events, newUsers: created)
    }

    /// Whether ``append(_:)`` could take anything of `committed` (a look, no copy).
    func mayAppend(_ committed: CommittedEvents) -> Bool {
        committed.events.keys.contains { overlay.facts[$0] != nil || committed.newUsers[$0] != nil }
    }

    /// The index of the live user with `externalID`, whether in the columns or the overlay.
    public func userIndex(of externalID: String) -> UInt32? {
        if let index = overlay.index(of: externalID) { return index }
        guard let index = users.index(of: externalID), !overlay.touched.contains(index) else { return nil }
        return index
    }

    /// How many events in all.
    public var eventCount: Int { events.values.reduce(0) { $0 + $1.count } }

    /// Approximate bytes of memory held (the memory budget's measure).
    public var bytesHeld: Int {
        users.bytesHeld + events.values.reduce(0) { $0 + $1.bytesHeld + MemoryEstimate.heapBytes(of: $1.name) } + profiles.bytesHeld
            + tags.bytesHeld + responses.bytesHeld + overlay.bytesHeld + conditions.bytesHeld
            + MemoryEstimate.dictionaryBytes(count: events.count, entry: 16 + MemoryLayout<EventColumns>.stride)
    }
}
