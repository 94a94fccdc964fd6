import Foundation
import SegmentDomain
import SegmentStore

/// Trains a predictive segment's model and scores every user in its population.
///
/// Training looks back from a cutoff one horizon ago: features from the days
/// before it, the label from the horizon after it (convert: performed the
/// event; churn: active before, not in the horizon). One user in five (by a
/// hash of the user index) is held out for the AUC and calibration on the
/// card. Scoring computes the same features up to today; the top 20% of
/// scores are `high`, the next 30% `medium`, the rest `low`, and the chosen
/// bucket becomes the membership.
public struct TrainHandler: JobHandler {
    public let kind = JobKind.train
    let store: PredictiveStore

    /// Fewest users in the population, and fewest of each class, worth a model.
    public static let minimumUsers = 50
    public static let minimumPerClass = 5
    /// Users sampled for training at most (scoring reads everyone).
    public static let maxTrainingUsers = 200_000
    /// The L2 penalty (scikit-learn's C = 1).
    public static let lambda = 1.0
    public static let algorithm = "logistic_regression"

    public init(store: PredictiveStore) {
        self.store = store
    }

    /// The feature cutoff for scoring (the start of tomorrow, UTC: every event so far) and for training (one horizon earlier).
    public static func cutoffs(now: Date, horizonDays: Int) -> (training: Date, scoring: Date) {
        let scoring = Date(timeIntervalSince1970: ((now.timeIntervalSince1970 / 86_400).rounded(.down) + 1) * 86_400)
        return (scoring.addingTimeInterval(-Double(horizonDays) * 86_400), scoring)
    }

    /// Whether a user is held out (one in five, stable across trainings).
    public static func isHoldout(_ userIndex: Int64) -> Bool {
        ((UInt64(bitPattern: userIndex) &* 0x9E37_79B9_7F4A_7C15) >> 32) % 5 == 0
    }

    /// FAILED_PRECONDITION unless the population and both classes are large enough.
    public static func checkData(users: Int64, positives: Int64, settings: PredictiveSettings) throws {
        let goal = settings.goal == .convert ? "performed \(settings.event)" : "stopped performing \(settings.event)"
        guard users >= minimumUsers else {
            throw DomainError(
                .failedPrecondition,
                "INSUFFICIENT_DATA: \(users) users have activity before the training cutoff; a model needs at least \(minimumUsers)")
        }
        guard positives >= minimumPerClass else {
            throw DomainError(
                .failedPrecondition,
                "INSUFFICIENT_DATA: \(positives) of \(users) users \(goal) within \(settings.horizonDays) days after the training cutoff; a model needs at least \(minimumPerClass)"
            )
        }
        guard users - positives >= minimumPerClass else {
            throw DomainError(
                .failedPrecondition,
                "INSUFFICIENT_DATA: all but \(users - positives) of \(users) users \(goal); a model needs at least \(minimumPerClass) of each")
        }
    }

    public func run(_ job: JobRecord, worker: String) async throws {
        let started = ContinuousClock.now
        let segmentID = job.segmentID
        let (segment, settings) = try await store.settings(tenant: job.tenantID, segmentID: segmentID)
        guard segment.state == .active else {
            throw DomainError(.failedPrecondition, "\(segment.name) is \(segment.state.rawValue): resume it to train it")
        }
        let now = store.now
        let (trainingCutoff, scoringCutoff) = Self.cutoffs(now: now, horizonDays: settings.horizonDays)
        let spec = try await store.featureSpec(tenant: job.tenantID, settings: settings)
        let population = try await store.population(tenant: job.tenantID, spec: spec, settings: settings, cutoff: trainingCutoff)
        try Self.checkData(users: population.users, positives: population.positives, settings: settings)
        let sample = population.users > Int64(Self.maxTrainingUsers) ? max(1, Int64(Self.maxTrainingUsers) * 1000 / population.users) : nil

        var trainRows: [[Double]] = []
        var trainLabels: [Bool] = []
        var holdoutRows: [[Double]] = []
        var holdoutLabels: [Bool] = []
        try await store.rows(tenant: job.tenantID, spec: spec, settings: settings, cutoff: trainingCutoff, withLabel: true, samplePerMille: sample) {
            row in
            if Self.isHoldout(row.userIndex) {
                holdoutRows.append(row.features)
                holdoutLabels.append(row.label)
            } else {
                trainRows.append(row.features)
                trainLabels.append(row.label)
            }
        }
        try Task.checkCancellation()
        try Self.checkData(users: Int64(trainRows.count), positives: Int64(trainLabels.filter { $0 }.count), settings: settings)
        let model = LogisticRegression.fit(rows: trainRows, labels: trainLabels, lambda: Self.lambda)
        let holdoutScores = holdoutRows.map(model.probability)
        let auc = ModelMetrics.auc(scores: holdoutScores, labels: holdoutLabels) ?? 0.5
        try Task.checkCancellation()

        var users: [Int64] = []
        var scores: [Double] = []
        try await store.rows(tenant: job.tenantID, spec: spec, settings: settings, cutoff: scoringCutoff, withLabel: false) { row in
            users.append(row.userIndex)
            scores.append(model.probability(row.features))
        }
        let high = ModelMetrics.quantile(scores, 0.8)
        let medium = ModelMetrics.quantile(scores, 0.5)
        let buckets = scores.map { $0 >= high ? "high" : $0 >= medium ? "medium" : "low" }
        let names = spec.names
        let card = ModelCardRecord(
            settings: settings, algorithm: Self.algorithm, cutoff: trainingCutoff, windowStart: trainingCutoff.addingTimeInterval(-365 * 86_400),
            trainingUsers: Int64(trainRows.count), positiveUsers: Int64(trainLabels.filter { $0 }.count), holdoutUsers: Int64(holdoutRows.count),
            holdoutAUC: auc,
            calibration: ModelMetrics.calibration(scores: holdoutScores, labels: holdoutLabels).map {
                ModelCardRecord.CalibrationBin(predicted: $0.predicted, observed: $0.observed, count: Int64($0.count))
            },
            weights: zip(names, model.weights).map { ModelCardRecord.Weight(feature: $0, weight: $1) }.sorted { abs($0.weight) > abs($1.weight) },
            highThreshold: high, mediumThreshold: medium, trainedAt: now, scoredUsers: Int64(users.count))
        let stored = StoredModel(spec: spec, means: model.means, scales: model.scales, weights: model.weights, intercept: model.intercept)
        try Task.checkCancellation()
        _ = try await store.save(
            job, worker: worker, card: card, model: stored, users: users, scores: scores, buckets: buckets, scoreCutoff: scoringCutoff,
            startedAt: started)
    }

    public func failed(_ job: JobRecord, message: String) async {
        try? await store.recordFailure(job, message: message)
    }
}

extension StoredModel {
    /// The fitted regression this model stores.
    public var regression: LogisticRegression {
        LogisticRegression(means: means, scales: scales, weights: weights, intercept: intercept)
    }
}
