import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// Predictive segments' data: the features of their populations (SQL over
/// rollups, responses and profiles), the trained model and its card, and every
/// user's score — written with the membership of the segment's bucket and the
/// job's completion in one transaction.
public struct PredictiveStore: Sendable {
    let database: Database
    let clock: @Sendable () -> Date

    public init(database: Database, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.clock = clock
    }

    public var now: Date { clock() }

    /// A predictive segment's settings (FAILED_PRECONDITION for other kinds).
    public func settings(tenant: TenantID, segmentID: String) async throws -> (SegmentRecord, PredictiveSettings) {
        let segment = try await SegmentStore(database: database, clock: clock).get(tenant: tenant, segmentID: segmentID, showDeleted: false)
        guard segment.kind == .predictive, let settings = segment.definition.predictive else {
            throw DomainError(.failedPrecondition, "\(segment.name) is not a predictive segment")
        }
        return (segment, settings)
    }

    /// The features to train on, from the tenant's catalog: the busiest event
    /// types (and the goal event), each one's first numeric property, and the
    /// numeric, boolean and time attributes.
    public func featureSpec(tenant: TenantID, settings: PredictiveSettings) async throws -> FeatureSpec {
        try await database.withTenant(tenant) { connection in
            let logger = database.logger
            var events: [String] = []
            for try await name in try await connection.query(
                "SELECT event_name FROM catalog_event_types ORDER BY count DESC, event_name LIMIT \(Int64(FeatureSpec.maxEvents))", logger: logger
            ).decode(String.self) { events.append(name) }
            if !events.contains(settings.event) { events.append(settings.event) }
            events.sort()
            var monetary: [String: String] = [:]
            for try await (event, property) in try await connection.query(
                """
                SELECT DISTINCT ON (event_name) event_name, property FROM catalog_event_properties
                WHERE value_type = 'number' AND event_name = ANY(\(events)::text[]) ORDER BY event_name, property
                """, logger: logger
            ).decode((String, String).self) { monetary[event] = property }
            var byType: [String: [String]] = [:]
            for try await (attribute, type) in try await connection.query(
                "SELECT attribute, value_type FROM catalog_attributes WHERE value_type IN ('number', 'bool', 'timestamp') ORDER BY attribute",
                logger: logger
            ).decode((String, String).self) {
                if byType[type, default: []].count < FeatureSpec.maxAttributes { byType[type, default: []].append(attribute) }
            }
            return FeatureSpec(
                events: events, monetary: monetary, numberAttributes: byType["number"] ?? [], boolAttributes: byType["bool"] ?? [],
                timeAttributes: byType["timestamp"] ?? [])
        }
    }

    /// One user's row of features.
    public struct FeatureRow: Sendable {
        public var userIndex: Int64
        public var features: [Double]
        public var label: Bool
    }

    /// Streams the population's feature rows at `cutoff` (labelled from the horizon after it when `withLabel`).
    public func rows(
        tenant: TenantID, spec: FeatureSpec, settings: PredictiveSettings, cutoff: Date, withLabel: Bool, samplePerMille: Int64? = nil,
        _ body: (FeatureRow) async throws -> Void
    ) async throws {
        try await database.withTenantSnapshot(tenant) { connection in
            var query = FeatureQuery(spec: spec, settings: settings, cutoff: cutoff, tenant: tenant)
            let sql = query.sql(withLabel: withLabel, samplePerMille: samplePerMille)
            for try await (user, features, label) in try await connection.query(
                PostgresQuery(unsafeSQL: sql, binds: query.bindings), logger: database.logger
            )
            .decode((Int64, [Double], Bool).self) {
                try await body(FeatureRow(userIndex: user, features: features, label: label))
            }
        }
    }

    /// How many users the population has at `cutoff`, and how many of them reach the goal (for the data check).
    public func population(tenant: TenantID, spec: FeatureSpec, settings: PredictiveSettings, cutoff: Date) async throws -> (
        users: Int64, positives: Int64
    ) {
        try await database.withTenant(tenant) { connection in
            var query = FeatureQuery(spec: FeatureSpec(events: [settings.event]), settings: settings, cutoff: cutoff, tenant: tenant)
            let sql = "SELECT count(*)::int8, count(*) FILTER (WHERE l)::int8 FROM (\(query.sql(withLabel: true))) AS x(u, f, l)"
            for try await counts in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: query.bindings), logger: database.logger)
                .decode((Int64, Int64).self)
            { return counts }
            return (0, 0)
        }
    }

    /// One user's features at `cutoff` (nil when the user is outside the population).
    public func features(tenant: TenantID, spec: FeatureSpec, settings: PredictiveSettings, cutoff: Date, userIndex: Int64) async throws -> [Double]?
    {
        try await database.withTenant(tenant) { connection in
            var query = FeatureQuery(spec: spec, settings: settings, cutoff: cutoff, tenant: tenant)
            let sql = query.sql(withLabel: false, user: userIndex)
            for try await (_, features, _) in try await connection.query(
                PostgresQuery(unsafeSQL: sql, binds: query.bindings), logger: database.logger
            )
            .decode((Int64, [Double], Bool).self) { return features }
            return nil
        }
    }

    /// Saves a trained model and every score, makes the chosen bucket the
    /// membership and finishes the job — one transaction, so a lost attempt changes nothing.
    public func save(
        _ job: JobRecord, worker: String, card: ModelCardRecord, model: StoredModel, users: [Int64], scores: [Double], buckets: [String],
        scoreCutoff: Date, startedAt: ContinuousClock.Instant
    ) async throws -> (size: Int64, entered: Int64, exited: Int64) {
        let segmentID = job.segmentID
        let now = clock()
        return try await database.withTenant(job.tenantID) { connection in
            let logger = database.logger
            try await MembershipWriteLock.shared(job.tenantID, on: connection, logger: logger)
            let segment = try await SegmentStore.fetch(segmentID, tenant: job.tenantID, on: connection, logger: logger, lock: true)
            guard let settings = segment.definition.predictive else {
                throw DomainError(.failedPrecondition, "\(segment.name) is not predictive any more")
            }
            try await connection.query(
                """
                INSERT INTO predictive_models (tenant_id, segment_id, card, model, trained_at, scored_at)
                VALUES (\(job.tenantID.rawValue), \(segmentID), \(card.sortedJSON)::jsonb, \(model.sortedJSON)::jsonb, \(card.trainedAt), \(scoreCutoff))
                ON CONFLICT (tenant_id, segment_id) DO UPDATE SET card = excluded.card, model = excluded.model,
                    trained_at = excluded.trained_at, scored_at = excluded.scored_at
                """, logger: logger)
            try await connection.query("DELETE FROM predictive_scores WHERE segment_id = \(segmentID)", logger: logger)
            let batch = 50_000
            var start = 0
            while start < users.count {
                let end = min(start + batch, users.count)
                try await connection.query(
                    """
                    INSERT INTO predictive_scores (tenant_id, segment_id, user_index, score, bucket)
                    SELECT \(job.tenantID.rawValue), \(segmentID), u, s, b
                    FROM unnest(\(Array(users[start..<end]))::int8[], \(Array(scores[start..<end]))::float8[], \(Array(buckets[start..<end]))::text[]) AS x(u, s, b)
                    """, logger: logger)
                start = end
            }
            var bindings = PostgresBindings()
            bindings.append(job.tenantID.rawValue)
            bindings.append(segmentID)
            bindings.append(settings.bucket.rawValue)
            let change = try await MembershipWriter.replace(
                segmentID: segmentID, tenant: job.tenantID,
                with: "SELECT user_index FROM predictive_scores WHERE tenant_id = $1 AND segment_id = $2 AND bucket = $3",
                bindings: bindings, now: now, jobID: job.jobID, cause: .score, on: connection, logger: logger)
            let milliseconds = MembershipWriter.milliseconds(since: startedAt)
            try await MembershipWriter.record(
                change, segment: segment, now: now, durationMilliseconds: milliseconds, jobID: job.jobID, scheduled: job.args.scheduled,
                creator: job.creator, on: connection, logger: logger)
            try await JobQueue.complete(
                job, worker: worker,
                result: .train(
                    TrainResult(
                        model: "\(segment.name)/model", algorithm: card.algorithm, holdoutAUC: (card.holdoutAUC * 10_000).rounded() / 10_000,
                        trainingUsers: Int64(card.trainingUsers), scoredUsers: Int64(card.scoredUsers), size: change.size,
                        entered: change.entered, exited: change.exited, durationMilliseconds: milliseconds, worker: worker)),
                now: now, on: connection, logger: logger)
            return (change.size, change.entered, change.exited)
        }
    }

    /// The model card and stored model (NOT_FOUND before the first training).
    public func model(tenant: TenantID, segmentID: String) async throws -> (card: ModelCardRecord, model: StoredModel, scoredAt: Date) {
        try await database.withTenant(tenant) { connection in
            _ = try await SegmentStore.fetch(segmentID, tenant: tenant, on: connection, logger: database.logger)
            for try await (card, model, scoredAt) in try await connection.query(
                "SELECT card::text, model::text, scored_at FROM predictive_models WHERE segment_id = \(segmentID)", logger: database.logger
            ).decode((String, String, Date).self) {
                let decoder = JSONDecoder()
                return (
                    try decoder.decode(ModelCardRecord.self, from: Data(card.utf8)), try decoder.decode(StoredModel.self, from: Data(model.utf8)),
                    scoredAt
                )
            }
            throw DomainError(.notFound, "tenants/\(tenant)/segments/\(segmentID)/model not found: the segment has not been trained yet (TrainModel)")
        }
    }

    /// A user's stored score and bucket (nil when the last scoring did not score them).
    public func score(tenant: TenantID, segmentID: String, userIndex: Int64) async throws -> (score: Double, bucket: String)? {
        try await database.withTenant(tenant) { connection in
            for try await row in try await connection.query(
                "SELECT score, bucket FROM predictive_scores WHERE segment_id = \(segmentID) AND user_index = \(userIndex)", logger: database.logger
            ).decode((Double, String).self) { return row }
            return nil
        }
    }

    /// Records a failed training on the segment (its membership is unchanged).
    public func recordFailure(_ job: JobRecord, message: String) async throws {
        try await SegmentStore.recordFailure(job, message: message, at: clock(), database: database)
    }
}

extension PredictiveStore {
    /// A user's index by external id (nil when unknown).
    public func userIndex(tenant: TenantID, userID: String) async throws -> Int64? {
        try await database.withTenant(tenant) { connection in
            for try await index in try await connection.query(
                "SELECT user_index FROM users WHERE external_id = \(userID)", logger: database.logger
            ).decode(Int64.self) { return index }
            return nil
        }
    }
}
