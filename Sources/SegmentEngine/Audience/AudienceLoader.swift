import Foundation
import Logging
import SegmentDomain
import SegmentStore

/// Loads a tenant's ``TenantAudience`` from PostgreSQL: one snapshot read by
/// ``AudienceSource``, built into columns as the batches arrive, with progress
/// and the outcome in the logs.
///
/// ```swift
/// let loaded = try await AudienceLoader(source: AudienceSource(database: database), logger: logger).load(tenant)
/// loaded.audience.events["purchase"]?.count
/// ```
public struct AudienceLoader: Sendable {
    public let source: AudienceSource
    public let logger: Logger

    public init(source: AudienceSource, logger: Logger) {
        self.source = source
        self.logger = logger
    }

    /// A loaded state and what loading it took.
    public struct Loaded: Sendable {
        public var audience: TenantAudience
        /// Wall time of the load, reading and building.
        public var duration: Duration
        /// Rows read, by kind ("users", "events", "profiles", "tags", "responses").
        public var rows: [String: Int]
        /// Rows skipped because their user does not exist.
        public var orphans: Int
    }

    /// Reads `tenant` from the database and builds its state.
    public func load(_ tenant: TenantID) async throws -> Loaded {
        let clock = ContinuousClock()
        let start = clock.now
        logger.info("loading the audience", metadata: ["tenant": "\(tenant)"])
        var builder = AudienceBuilder(tenant: tenant, logger: logger)
        let snapshot = try await source.read(tenant: tenant, into: &builder)
        let audience = builder.finish(snapshot: snapshot)
        let duration = clock.now - start
        // Reported apart so bytes per event and per user (everything else) can be read off the log.
        let eventBytes = audience.events.values.reduce(0) { $0 + $1.bytesHeld }
        if builder.orphans > 0 {
            logger.warning("audience rows of users that do not exist were skipped", metadata: ["tenant": "\(tenant)", "rows": "\(builder.orphans)"])
        }
        logger.info(
            "loaded the audience",
            metadata: [
                "tenant": "\(tenant)", "users": "\(audience.users.count)", "events": "\(audience.eventCount)",
                "event_types": "\(audience.events.count)", "bytes": "\(audience.bytesHeld)", "event_bytes": "\(eventBytes)",
                "duration": "\(duration)",
            ])
        return Loaded(audience: audience, duration: duration, rows: builder.rows, orphans: builder.orphans)
    }
}
