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
        let (tenant, id) = try ResourceName.segmentReference(request.segment, field: "segment", for: call.principal)
        return OperationService.proto(try await predictive.train(tenant: tenant, segmentID: id, creator: call.principal.keyName, audit: call.audit()))
    }

    func getModelCard(request: Segmentd_V1_GetModelCardRequest, context: ServerContext) async throws -> Segmentd_V1_ModelCard {
        let principal = try RequestContext.require().principal
        let (tenant, id, _) = try ResourceName.underSegment(request.name, "model", idName: nil, field: "name", for: principal)
        return Self.proto(try await predictive.card(tenant: tenant, segmentID: id), name: request.name)
    }

}
