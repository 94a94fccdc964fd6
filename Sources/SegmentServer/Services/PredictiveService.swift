import Foundation
import GRPCCore
import SegmentEngine
import SegmentStore
import SegmentdAPI
import SwiftProtobuf
import SegmentDomain

/// `segmentd.v1.PredictiveService`: training predictive segments' models and
/// reading their cards.
struct PredictiveService: Segmentd_V1_PredictiveService.SimpleServiceProtocol {
    let store: PredictiveStore
    let segments: SegmentStore

    /// Enqueues training (and rescoring). Too little data is refused here, at
    /// once, rather than as a failed operation a minute later.
    func trainModel(request: Segmentd_V1_TrainModelRequest, context: ServerContext) async throws -> Segmentd_V1_Operation {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.segment, collection: "segments", field: "segment", for: call.principal)
        let (segment, settings) = try await store.settings(tenant: tenant, segmentID: id)
        guard segment.state == .active else {
            throw APIError(
                .failedPrecondition, "\(segment.name) is \(segment.state.rawValue): resume it to train it (its last membership is kept)",
                reason: "SEGMENT_PAUSED", metadata: ["segment": segment.name])
        }
        let (cutoff, _) = TrainHandler.cutoffs(now: store.now, horizonDays: settings.horizonDays)
        let population = try await store.population(
            tenant: tenant, spec: FeatureSpec(events: [settings.event]), settings: settings, cutoff: cutoff)
        do {
            try TrainHandler.checkData(users: population.users, positives: population.positives, settings: settings)
        } catch let error as DomainError {
            throw APIError(
                .failedPrecondition, error.message, reason: "INSUFFICIENT_DATA",
                metadata: ["users": String(population.users), "positives": String(population.positives), "cutoff": ISO8601DateFormatter().string(from: cutoff)])
        }
        return OperationService.proto(try await segments.requestRefresh(tenant: tenant, segmentID: id, creator: call.principal.keyName, audit: call.audit()))
    }

    func getModelCard(request: Segmentd_V1_GetModelCardRequest, context: ServerContext) async throws -> Segmentd_V1_ModelCard {
        let principal = try RequestContext.require().principal
        let (tenant, id, _) = try ResourceName.underSegment(request.name, "model", idName: nil, field: "name", for: principal)
        let (card, _, _) = try await store.model(tenant: tenant, segmentID: id)
        return Self.proto(card, name: request.name)
    }

    static func proto(_ card: ModelCardRecord, name: String) -> Segmentd_V1_ModelCard {
        .with {
            $0.name = name
            $0.config = SegmentKindMapping.proto(card.settings)
            $0.algorithm = card.algorithm
            $0.cutoffTime = .init(date: card.cutoff)
            $0.trainingWindowStart = .init(date: card.windowStart)
            $0.trainingUsers = card.trainingUsers
            $0.positiveUsers = card.positiveUsers
            $0.holdoutAuc = card.holdoutAUC
            $0.calibration = card.calibration.map { bin in
                .with {
                    $0.predicted = bin.predicted
                    $0.observed = bin.observed
                    $0.count = bin.count
                }
            }
            $0.weights = card.weights.map { weight in
                .with {
                    $0.feature = weight.feature
                    $0.weight = weight.weight
                }
            }
            $0.highThreshold = card.highThreshold
            $0.mediumThreshold = card.mediumThreshold
            $0.trainTime = .init(date: card.trainedAt)
            $0.scoredUsers = card.scoredUsers
        }
    }

    /// Why a predictive segment scores a user as it does: the stored score and
    /// bucket, and the features that moved the log-odds most (recomputed at the
    /// scoring cutoff, so they are the values the score came from).
    static func explain(
        userID: String, segment: SegmentRecord, settings: PredictiveSettings, tenant: TenantID, store: PredictiveStore
    ) async throws -> Segmentd_V1_ExplainMembershipResponse {
        guard let userIndex = try await store.userIndex(tenant: tenant, userID: userID) else {
            throw DomainError.notFound("tenants/\(tenant)/users/\(userID)")
        }
        let (card, model, scoredAt) = try await store.model(tenant: tenant, segmentID: segment.segmentID)
        let stored = try await store.score(tenant: tenant, segmentID: segment.segmentID, userIndex: userIndex)
        let features = try await store.features(tenant: tenant, spec: model.spec, settings: settings, cutoff: scoredAt, userIndex: userIndex)
        let names = model.spec.names
        let contributions = features.map { values in
            zip(names.indices, model.regression.contributions(values)).map { (index, contribution) in
                (feature: names[index], value: values[index], contribution: contribution)
            }.sorted { abs($0.contribution) > abs($1.contribution) }
        } ?? []
        let member = stored?.bucket == settings.bucket.rawValue
        let goal = settings.goal == .convert ? "perform \(settings.event)" : "stop performing \(settings.event)"
        let observed: String
        if let stored {
            observed = String(
                format: "score %.3f: %@ (high ≥ %.3f, medium ≥ %.3f)", stored.score, stored.bucket, card.highThreshold, card.mediumThreshold)
        } else {
            observed = settings.goal == .churn
                ? "not scored: no \(settings.event) in the \(max(30, settings.horizonDays)) days before the last scoring"
                : "not scored: no activity in the year before the last scoring"
        }
        return .with {
            $0.member = member
            $0.inLastRefresh = member
            $0.root = .with {
                $0.text = "in the \(settings.bucket.rawValue) bucket of the likelihood to \(goal) within \(settings.horizonDays) days"
                $0.result = member
                $0.observed = observed
            }
            $0.prediction = .with {
                $0.score = stored?.score ?? 0
                $0.bucket = stored?.bucket ?? ""
                $0.contributions = contributions.prefix(5).map { item in
                    .with {
                        $0.feature = item.feature
                        $0.value = item.value
                        $0.contribution = item.contribution
                    }
                }
            }
            // When the score was computed (its features read every event before the scoring cutoff).
            $0.evaluateTime = .init(date: card.trainedAt)
        }
    }
}
