import Foundation
import SegmentDomain
import SegmentRules

/// The events one ingest transaction committed, as the audience engine holds
/// them: per user index, each typed by the catalog and timed to the microsecond
/// PostgreSQL stored. The engine appends them to the users it holds whole right
/// after the commit, instead of reading them back at its next catch-up.
public struct CommittedEvents: Sendable {
    public var tenant: TenantID
    /// The writing transaction (`pg_current_xact_id()`, a full `xid8`): a state whose
    /// snapshot sees it already holds these events.
    public var transaction: Int64
    /// Each user's events in time order. A user with two events at one microsecond is
    /// left out (their order among equals is the message ids' in the database's
    /// collation): the catch-up reads such a user.
    public var events: [UInt32: [UserEvent]]
    /// The users this transaction created, by index, with their external ids: these events
    /// are all there is of them (any later change commits after), so the engine can hold them whole.
    public var newUsers: [UInt32: String]

    public init(tenant: TenantID, transaction: Int64, events: [UInt32: [UserEvent]], newUsers: [UInt32: String] = [:]) {
        self.tenant = tenant
        self.transaction = transaction
        self.events = events
        self.newUsers = newUsers
    }

    /// The batch's rows as a read of the database would give them: times truncated to the
    /// microsecond (as PostgresNIO binds a `Date`), properties through the stored JSON and
    /// typed with the catalog's types (`types` by `event name + "\u{1F}" + property`).
    static func rows(
        _ rows: [(name: String, time: Date, properties: [String: RuleValue], user: Int64)], types: [String: ValueType]
    ) throws -> [UInt32: [UserEvent]] {
        var byUser: [UInt32: [UserEvent]] = [:]
        for row in rows {
            guard let user = UInt32(exactly: row.user), user < UInt32.max else { continue }
            let properties = try [String: RuleValue](storedJSON: row.properties.jsonText) { types[row.name + "\u{1F}" + $0] }
            let time = AudienceTime.date(AudienceTime.microseconds(row.time))
            byUser[user, default: []].append(UserEvent(name: row.name, time: time, properties: properties))
        }
        var ordered: [UInt32: [UserEvent]] = [:]
        for (user, events) in byUser {
            let sorted = events.sorted { $0.time < $1.time }
            guard zip(sorted, sorted.dropFirst()).allSatisfy({ $0.time < $1.time }) else { continue }
            ordered[user] = sorted
        }
        return ordered
    }
}
