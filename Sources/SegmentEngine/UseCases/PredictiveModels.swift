import Foundation
import SegmentDomain
import SegmentRules
import SegmentStore

/// Predictive segments: training on request, model cards, and why a user scores as they do.
public struct PredictiveModels: Sendable {
    let store: PredictiveStore
    let segments: SegmentStore

    public init(store: PredictiveStore, segments: SegmentStore) {
        self.store = store
        self.segments = segments
    }

    /// Enqueues training (and rescoring). Too little data is refused here, at
    /// once, rather than as a failed operation a minute later.
    public func train(tenant: TenantID, segmentID: String, creator: String, audit: AuditContext) async throws -> JobRecord {
        let (segment, settings) = try await store.settings(tenant: tenant, segmentID: segmentID)
        try segment.requireActive(to: "train it")
        let (cutoff, _) = TrainHandler.cutoffs(now: store.now, horizonDays: settings.horizonDays)
        let population = try await store.population(
            tenant: tenant, spec: FeatureSpec(events: [settings.event]), settings: settings, cutoff: cutoff)
        do {
            try TrainHandler.checkData(users: population.users, positives: population.positives, settings: settings)
        } catch let error as DomainError {
            throw DomainError(
                .failedPrecondition, error.message, reason: .insufficientData,
                metadata: [
                    "users": String(population.users), "positives": String(population.positives),
                    "cutoff": ISO8601DateFormatter().string(from: cutoff),
                ])
        }
        return try await segments.requestRefresh(tenant: tenant, segmentID: segmentID, creator: creator, audit: audit)
    }

    /// The model card (NOT_FOUND before the first training).
    public func card(tenant: TenantID, segmentID: String) async throws -> ModelCardRecord {
        try await store.model(tenant: tenant, segmentID: segmentID).card
    }

    /// Why a predictive segment scores a user as it does: the stored score and
    /// bucket, and the features that moved the log-odds most (recomputed at the
    /// scoring cutoff, so they are the values the score came from).
    public func explain(
        userID: String, segment: SegmentRecord, settings: PredictiveSettings, tenant: TenantID
    ) async throws -> MembershipExplanation {
        guard let userIndex = try await store.userIndex(tenant: tenant, userID: userID) else {
            throw DomainError.notFound("tenants/\(tenant)/users/\(userID)")
        }
        let (card, model, scoredAt) = try await store.model(tenant: tenant, segmentID: segment.segmentID)
        let stored = try await store.score(tenant: tenant, segmentID: segment.segmentID, userIndex: userIndex)
        let features = try await store.features(tenant: tenant, spec: model.spec, settings: settings, cutoff: scoredAt, userIndex: userIndex)
        let names = model.spec.names
        let contributions =
            features.map { values in
                zip(names.indices, model.regression.contributions(values)).map { index, contribution in
                    PredictionExplanation.Contribution(feature: names[index], value: values[index], contribution: contribution)
                }.sorted { abs($0.contribution) > abs($1.contribution) }
            } ?? []
        let member = stored?.bucket == settings.bucket.rawValue
        let goal = settings.goal == .convert ? "perform \(settings.event)" : "stop performing \(settings.event)"
        let observed: String
        if let stored {
            observed = String(
                format: "score %.3f: %@ (high ≥ %.3f, medium ≥ %.3f)", stored.score, stored.bucket, card.highThreshold, card.mediumThreshold)
        } else {
            observed =
                settings.goal == .churn
                ? "not scored: no \(settings.event) in the \(max(30, settings.horizonDays)) days before the last scoring"
                : "not scored: no activity in the year before the last scoring"
        }
        let root = Explanation(
            text: "in the \(settings.bucket.rawValue) bucket of the likelihood to \(goal) within \(settings.horizonDays) days",
            result: member, observed: observed, children: [])
        return MembershipExplanation(
            member: member, inLastRefresh: member, root: root,
            prediction: PredictionExplanation(score: stored?.score ?? 0, bucket: stored?.bucket ?? "", contributions: Array(contributions.prefix(5))),
            // When the score was computed (its features read every event before the scoring cutoff).
            evaluatedAt: card.trainedAt)
    }
}
