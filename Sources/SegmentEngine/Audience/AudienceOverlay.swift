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
            if let appended = catchUp.appendedEvents[user] {
                userFacts.events = (facts[user]?.events ?? []) + appended
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
        }
    }

    private mutating func forget(_ user: UInt32) {
        if let old = facts.removeValue(forKey: user) { factBytes -= Self.bytes(of: old) }
        if let externalID = externalIDs.removeValue(forKey: user) { indexes[UTF8Key(externalID)] = nil }
    }

    /// The users touched by the catch-ups applied after the `serial`-th.
    public func users(touchedAfter serial: Int) -> [UInt32] {
        touchedIn.compactMap { $0.value > serial ? $0.key : nil }
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
    }

    /// A rough size of one user's facts (values boxed in dictionaries cost more than columns).
    private static func bytes(of facts: UserFacts) -> Int {
        let perValue = 48
        return facts.attributes.count * perValue + facts.tags.count * 32 + facts.responses.count * 48
            + facts.events.reduce(0) { $0 + 64 + $1.properties.count * perValue }
    }
}
