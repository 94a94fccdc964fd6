import Foundation
import Logging
import SegmentDomain
import SegmentRules
import SegmentStore

/// Builds a ``TenantAudience`` from the batches of an ``AudienceSource`` read:
/// appends each batch to the columns it belongs to and counts what it saw.
///
/// Rows of users that do not exist are skipped and counted (`orphans`): one
/// snapshot holds a user and all of their rows or none, so this only happens
/// when the data was written around the server.
struct AudienceBuilder: AudienceSink {
    private(set) var audience: TenantAudience
    /// Rows read, by kind ("users", "events", "profiles", "tags", "responses").
    private(set) var rows: [String: Int] = [:]
    /// Rows skipped because their user does not exist.
    private(set) var orphans = 0
    private var eventsFinished = false
    let logger: Logger
    /// Log a progress line every this many rows.
    let progressEvery: Int
    private var nextProgress: Int

    init(tenant: TenantID, logger: Logger, progressEvery: Int = 1_000_000) {
        audience = TenantAudience(tenant: tenant)
        self.logger = logger
        self.progressEvery = progressEvery
        nextProgress = progressEvery
    }

    mutating func receive(_ users: AudienceRows.Users) throws {
        try audience.users.append(users)
        counted("users", users.count)
    }

    mutating func receive(_ events: AudienceRows.Events) throws {
        var columns = audience.events.removeValue(forKey: events.name) ?? EventColumns(name: events.name)
        orphans += try columns.append(events, live: audience.users.live)
        audience.events[events.name] = columns
        counted("events", events.count)
    }

    mutating func receive(_ profiles: AudienceRows.Profiles) throws {
        orphans += try audience.profiles.append(profiles, live: audience.users.live)
        counted("profiles", profiles.count)
    }

    mutating func receive(_ tags: AudienceRows.Tags) throws {
        orphans += audience.tags.append(tags, live: audience.users.live)
        counted("tags", tags.count)
    }

    mutating func receive(_ responses: AudienceRows.Responses) throws {
        orphans += try audience.responses.append(responses, live: audience.users.live)
        counted("responses", responses.count)
    }

    /// Puts each event type in time order and drops its spare capacity, one type at a time,
    /// then hands the scratch memory back to the system before the rest loads.
    mutating func finishedEvents() {
        guard !eventsFinished else { return }
        eventsFinished = true
        for name in audience.events.keys.sorted() {
            audience.events[name]!.sortByTime()
            audience.events[name]!.shrink()
        }
        MemoryRelease.returnFreePages()
    }

    private mutating func counted(_ kind: String, _ count: Int) {
        rows[kind, default: 0] += count
        let total = rows.values.reduce(0, +)
        if total >= nextProgress {
            nextProgress = total + progressEvery
            logger.info(
                "loading the audience", metadata: ["tenant": "\(audience.tenant)", "rows": "\(total)", "reading": "\(kind)"])
        }
    }

    /// The finished state: every column padded to the users, spare capacity released.
    mutating func finish(snapshot: AudienceSource.Snapshot) -> TenantAudience {
        audience.catalog = snapshot.catalog
        audience.snapshotTime = snapshot.takenAt
        audience.databaseSnapshot = snapshot.databaseSnapshot
        audience.users.shrink()
        finishedEvents()  // once: done already when the source said so
        MemoryRelease.returnFreePages()
        audience.profiles.finish(users: audience.users.capacity, catalog: snapshot.catalog.attributes)
        audience.tags.shrink()
        audience.responses.shrink()
        return audience
    }
}
