import SegmentDomain
import SegmentRules
import SegmentStore

/// Profile attributes as typed columns with a row per user index, and each
/// user's last location.
///
/// A row per index (not per profile) so an attribute test reads `column[user]`
/// directly and its result is a bitmap over the same indexes; users without a
/// profile, or without the attribute, are simply not `present`. Every attribute
/// of the catalog has a column, the reserved `country`, `city`, `time_zone` and
/// `language` (strings) included, even when no profile sets it yet.
public struct ProfileColumns: Sendable {
    /// Attribute columns by name; row = user index.
    public private(set) var attributes: [String: PropertyColumn] = [:]
    /// Users with a profile row.
    public private(set) var profiled = MemberBitmap()
    /// Each user's last known location.
    public private(set) var locations = LastLocations()

    public init() {}

    /// The value of `attribute` for `user`, nil when not set.
    public func value(_ attribute: String, of user: UInt32) -> RuleValue? {
        attributes[attribute]?[Int(user)]
    }

    // MARK: Building

    /// Appends a batch of profiles, which must come in increasing user order.
    mutating func append(_ batch: AudienceRows.Profiles, live: MemberBitmap) throws -> Int {
        for field in batch.fields where attributes[field.name] == nil {
            attributes[field.name] = PropertyColumn(type: field.type)
        }
        var skipped = 0
        for row in 0..<batch.count {
            let user = batch.users[row]
            guard live.contains(user) else {
                skipped += 1
                continue
            }
            if let last = profiled.last, user <= last {
                throw DomainError(.internalError, "profiles arrived out of user order")
            }
            profiled.insert(user)
            for (field, values) in zip(batch.fields, batch.values) {
                attributes[field.name]!.pad(to: Int(user))
                try attributes[field.name]!.append(values, row: row)
            }
            locations.set(batch.locations[row], for: user)
        }
        return skipped
    }

    /// Adds a column for each catalog attribute no profile carried, pads every
    /// column to `users` rows and lets go of spare capacity.
    mutating func finish(users: Int, catalog: [String: ValueType]) {
        for (name, type) in catalog where attributes[name] == nil {
            attributes[name] = PropertyColumn(type: type)
        }
        for name in attributes.keys {
            attributes[name]!.pad(to: users)
            attributes[name]!.shrink()
        }
        profiled.trim()
        locations.finish(users: users)
    }

    public var bytesHeld: Int {
        attributes.values.reduce(0) { $0 + $1.bytesHeld } + profiled.bytesHeld + locations.bytesHeld
            + MemoryEstimate.dictionaryBytes(count: attributes.count, entry: 16 + MemoryLayout<PropertyColumn>.stride)
    }
}
