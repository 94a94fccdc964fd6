import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI
import SwiftProtobuf

/// `segmentd.v1.PredictiveService`: training predictive segments' models and
/// reading their cards.
struct PredictiveService: Segmentd_V1_PredictiveService.SimpleServiceProtocol {
    let predictive: PredictiveModels

    /// Enqueues training (and rescoring). Too little data is refused here, at
    /// once, rather than as a failed operation a minute later.
    func trainModel(request: Segmentd_V1_TrainModelRequest, context: ServerContext) async throws -> Segmentd_V1_Operation {
        let call = try RequestContext.require()
        let (tenant, id) = try ResourceName.child(request.segment, collection: "segments", field: "segment", for: call.principal)
        return OperationService.proto(try await predictive.train(tenant: tenant, segmentID: id, creator: call.principal.keyName, audit: call.audit()))
    }

    func getModelCard(request: Segmentd_V1_GetModelCardRequest, context: ServerContext) async throws -> Segmentd_V1_ModelCard {
        let principal = try RequestContext.require().principal
        let (tenant, id, _) = try ResourceName.underSegment(request.name, "model", idName: nil, field: "name", for: principal)
        return Self.proto(try await predictive.card(tenant: tenant, segmentID: id), name: request.name)
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
}
