import Foundation

/// What a trained model is and how good it is (the API's ModelCard).
public struct ModelCardRecord: Sendable, Equatable, Codable {
    public struct CalibrationBin: Sendable, Equatable, Codable {
        public var predicted: Double
        public var observed: Double
        public var count: Int64
        public init(predicted: Double, observed: Double, count: Int64) {
            self.predicted = predicted
            self.observed = observed
            self.count = count
        }
    }

    public struct Weight: Sendable, Equatable, Codable {
        public var feature: String
        public var weight: Double
        public init(feature: String, weight: Double) {
            self.feature = feature
            self.weight = weight
        }
    }

    public var settings: PredictiveSettings
    public var algorithm: String
    public var cutoff: Date
    public var windowStart: Date
    public var trainingUsers: Int64
    public var positiveUsers: Int64
    public var holdoutUsers: Int64
    public var holdoutAUC: Double
    public var calibration: [CalibrationBin]
    /// Largest magnitude first.
    public var weights: [Weight]
    public var highThreshold: Double
    public var mediumThreshold: Double
    public var trainedAt: Date
    public var scoredUsers: Int64

    public init(
        settings: PredictiveSettings, algorithm: String, cutoff: Date, windowStart: Date, trainingUsers: Int64, positiveUsers: Int64,
        holdoutUsers: Int64, holdoutAUC: Double, calibration: [CalibrationBin], weights: [Weight], highThreshold: Double,
        mediumThreshold: Double, trainedAt: Date, scoredUsers: Int64
    ) {
        self.settings = settings
        self.algorithm = algorithm
        self.cutoff = cutoff
        self.windowStart = windowStart
        self.trainingUsers = trainingUsers
        self.positiveUsers = positiveUsers
        self.holdoutUsers = holdoutUsers
        self.holdoutAUC = holdoutAUC
        self.calibration = calibration
        self.weights = weights
        self.highThreshold = highThreshold
        self.mediumThreshold = mediumThreshold
        self.trainedAt = trainedAt
        self.scoredUsers = scoredUsers
    }
}

/// The parameters scoring needs: the features and a linear model over their
/// standardised values.
public struct StoredModel: Sendable, Equatable, Codable {
    public var spec: FeatureSpec
    public var means: [Double]
    public var scales: [Double]
    public var weights: [Double]
    public var intercept: Double

    public init(spec: FeatureSpec, means: [Double], scales: [Double], weights: [Double], intercept: Double) {
        self.spec = spec
        self.means = means
        self.scales = scales
        self.weights = weights
        self.intercept = intercept
    }
}
