import SegmentRules
import SegmentStore

/// The users changed since a state's columns were built, held whole per user:
/// ingest batches are applied here (after they commit) instead of rebuilding
/// the columns, and the evaluator answers these users with the single-user
/// ``RuleEvaluator`` while the columns answer everyone else.
///
/// A rule's membership is a property of one user's own data (and of the
/// segments it references), so "columns for the untouched, facts for the
/// touched" is exactly the membership over the whole tenant. The overlay grows
/// with the users ingest touches; past ``AudienceRegistry/Settings/compactionThreshold``
/// the registry loads the tenant again, which folds it into the columns.
public struct AudienceOverlay: Sendable {
    /// Users whose column rows are superseded (changed, added or deleted).
    public private(set) var touched = MemberBitmap()
    /// The touched users that exist, with everything a rule reads about them.
    public private(set) var facts: [UInt32: UserFacts] = [:]
    /// External ids of touched users that exist.
    public private(set) var externalIDs: [UInt32: String] = [:]
    private var indexes: [UTF8Key: UInt32] = [:]
    private var factBytes = 0
    /// How many catch-ups were applied, and the last that touched each user: real-time
    /// segments re-evaluate the users touched since the state they last looked at.
    public private(set) var serial = 0
    private var touchedIn: [UInt32: Int] = [:]
    /// The last catch-up that changed a user's profile, tags, responses or location, read the
    /// user whole, or removed them; and the last that appended events, per event type.
    private var changedWholeIn: [UInt32: Int] = [:]
    private var appendedIn: [UInt32: [String: Int]] = [:]
    private var appendedEntries = 0

    /// What changed for one user in the catch-ups after a serial.
    public enum UserChange: Equatable, Sendable {
        /// Anything may have changed (a first read, a profile or tag change, a removal).
        case anything
        /// Only events of these types were appended.
        case events(Set<String>)
    }

    public init() {}

    /// How many users are answered from here.
    public var count: Int { touched.count }

    /// Replaces what is known about the users `catchUp` touched.
    mutating func apply(_ catchUp: AudienceCatchUp) {
        serial += 1
        for user in catchUp.users.keys { touchedIn[user] = serial }
        for user in catchUp.removed { touchedIn[user] = serial }
        for (user, entry) in catchUp.users {
            var userFacts = entry.facts
            if let appended = catchUp.appendedEvents[user], let held = facts[user] {
                userFacts.events = held.events + appended
                if Self.sameBesideEvents(held, userFacts) {
                    for event in appended where appendedIn[user, default: [:]].updateValue(serial, forKey: event.name) == nil {
                        appendedEntries += 1
                    }
                } else {
                    changedWholeIn[user] = serial
                }
            } else {
                changedWholeIn[user] = serial
            }
            forget(user)
            touched.insert(user)
            facts[user] = userFacts
            externalIDs[user] = entry.externalID
            indexes[UTF8Key(entry.externalID)] = user
            factBytes += Self.bytes(of: userFacts)
        }
        for user in catchUp.removed {
            forget(user)
            touched.insert(user)
            changedWholeIn[user] = serial
            appendedEntries -= appendedIn.removeValue(forKey: user)?.count ?? 0
        }
    }

    /// Appends the events of a batch that just committed to the users held here whose
    /// events they all follow (strictly later than the last held, as a catch-up would
    /// append them), and holds whole the users the batch created (`newUsers`, not in the
    /// columns: these events are all there is of them); returns those users. Others are
    /// left to the next catch-up.
    mutating func append(_ batch: [UInt32: [UserEvent]], newUsers: [UInt32: String]) -> [UInt32] {
        var applied: [UInt32] = []
        for (user, events) in batch {
            guard let first = events.first else { continue }
            if let externalID = newUsers[user], !touched.contains(user) {
                if applied.isEmpty { serial += 1 }
                applied.append(user)
                touchedIn[user] = serial
                changedWholeIn[user] = serial
                touched.insert(user)
                facts[user] = UserFacts(events: events)
                externalIDs[user] = externalID
                indexes[UTF8Key(externalID)] = user
                factBytes += Self.bytes(of: events)
                continue
            }
            guard let held = facts[user], held.events.last.map({ $0.time < first.time }) ?? true else { continue }
            if applied.isEmpty { serial += 1 }
            applied.append(user)
            touchedIn[user] = serial
            for event in events where appendedIn[user, default: [:]].updateValue(serial, forKey: event.name) == nil {
                appendedEntries += 1
            }
            factBytes += Self.bytes(of: events)
            facts[user]?.events.append(contentsOf: events)
        }
        return applied
    }

    /// Continues numbering catch-ups after `serial` (when it is higher): a state made from an
    /// older one while batches were applied to the newer keeps the count moving forward.
    mutating func continueSerial(after serial: Int) {
        self.serial = max(self.serial, serial)
    }

    /// Whether two facts of a user agree in everything but their events.
    private static func sameBesideEvents(_ a: UserFacts, _ b: UserFacts) -> Bool {
        a.attributes == b.attributes && a.tags == b.tags && a.responses == b.responses && a.lastLocation == b.lastLocation
            && a.segments == b.segments
    }

    private mutating func forget(_ user: UInt32) {
        if let old = facts.removeValue(forKey: user) { factBytes -= Self.bytes(of: old) }
        if let externalID = externalIDs.removeValue(forKey: user) { indexes[UTF8Key(externalID)] = nil }
    }

    /// The users touched by the catch-ups applied after the `serial`-th.
    public func users(touchedAfter serial: Int) -> [UInt32] {
        touchedIn.compactMap { $0.value > serial ? $0.key : nil }
    }

    /// What changed for `user` in the catch-ups applied after the `serial`-th.
    public func change(of user: UInt32, after serial: Int) -> UserChange {
        if (changedWholeIn[user] ?? 0) > serial { return .anything }
        return .events(Set((appendedIn[user] ?? [:]).compactMap { $0.value > serial ? $0.key : nil }))
    }

    /// The index of a touched user that exists, by external id.
    func index(of externalID: String) -> UInt32? { indexes[UTF8Key(externalID)] }

    /// Approximate bytes held.
    public var bytesHeld: Int {
        touched.bytesHeld + factBytes
            + MemoryEstimate.dictionaryBytes(count: facts.count, entry: 4 + MemoryLayout<UserFacts>.stride)
            + MemoryEstimate.dictionaryBytes(count: externalIDs.count, entry: 4 + 16)
            + MemoryEstimate.dictionaryBytes(count: indexes.count, entry: MemoryLayout<UTF8Key>.stride + 4)
            + MemoryEstimate.dictionaryBytes(count: touchedIn.count, entry: 4 + 8)
            + MemoryEstimate.dictionaryBytes(count: changedWholeIn.count, entry: 4 + 8)
            + MemoryEstimate.dictionaryBytes(count: appendedIn.count, entry: 4 + 8) + appendedEntries * 2 * (16 + 8)
    }

    /// A rough size of one user's facts (values boxed in dictionaries cost more than columns).
    private static func bytes(of facts: UserFacts) -> Int {
        let perValue = 48
        return facts.attributes.count * perValue + facts.tags.count * 32 + facts.responses.count * 48 + bytes(of: facts.events)
    }

    private static func bytes(of events: [UserEvent]) -> Int {
        events.reduce(0) { $0 + 64 + $1.properties.count * 48 }
    }
}
