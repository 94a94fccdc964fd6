import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI
import SwiftProtobuf

/// How `PredictiveService` maps between messages and domain values.
extension PredictiveService {
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
