import Foundation
import SegmentDomain
import SegmentEngine
import SegmentdClient
import Testing

@Suite("Predictive models: logistic regression, AUC, calibration, quantiles")
struct ModelTests {
    /// Two informative features, one noise feature, one constant column.
    static func data(count: Int, seed: UInt64) -> ([[Double]], [Bool]) {
        var random = SplitMix64(seed: seed)
        var rows: [[Double]] = []
        var labels: [Bool] = []
        for _ in 0..<count {
            let a = random.unit() * 4 - 2
            let b = random.unit() * 10
            let noise = random.unit()
            let p = 1 / (1 + exp(-(1.5 * a - 0.3 * b + 1)))
            rows.append([a, b, noise, 7])
            labels.append(random.unit() < p)
        }
        return (rows, labels)
    }

    @Test("the fit is the penalised optimum: the gradient vanishes, and the signs and sizes follow the planted weights")
    func optimality() {
        let (rows, labels) = Self.data(count: 4000, seed: 3)
        let lambda = 1.0
        let model = LogisticRegression.fit(rows: rows, labels: labels, lambda: lambda)
        // ∂/∂w_j [log-loss + λ/2 |w|²] = Σ (p - y) x̃_j + λ w_j = 0 at the optimum (x̃ standardised); the intercept has no penalty.
        var gradient = [Double](repeating: 0, count: 4)
        var interceptGradient = 0.0
        for (row, label) in zip(rows, labels) {
            let residual = model.probability(row) - (label ? 1 : 0)
            interceptGradient += residual
            for j in 0..<4 { gradient[j] += residual * (row[j] - model.means[j]) / model.scales[j] }
        }
        for j in 0..<4 { gradient[j] += lambda * model.weights[j] }
        #expect(abs(interceptGradient) < 1e-6 && gradient.allSatisfy { abs($0) < 1e-6 }, "\(interceptGradient) \(gradient)")
        // Planted: +1.5 per unit of a, -0.3 per unit of b; standardised weights are per standard deviation.
        #expect(abs(model.weights[0] / model.scales[0] - 1.5) < 0.2)
        #expect(abs(model.weights[1] / model.scales[1] + 0.3) < 0.05)
        #expect(abs(model.weights[2]) < 0.15 && model.weights[3] == 0)
        // Contributions add up to the log-odds.
        let row = rows[0]
        #expect(abs(model.contributions(row).reduce(model.intercept, +) - model.logit(row)) < 1e-9)
    }

    @Test("holdout AUC of the planted model is high, and of shuffled labels about a half")
    func aucOnData() {
        let (train, trainLabels) = Self.data(count: 3000, seed: 5)
        let (test, testLabels) = Self.data(count: 3000, seed: 6)
        let model = LogisticRegression.fit(rows: train, labels: trainLabels)
        let auc = ModelMetrics.auc(scores: test.map(model.probability), labels: testLabels)!
        #expect(auc > 0.8)
        var random = SplitMix64(seed: 9)
        let shuffled = testLabels.shuffled(using: &random)
        #expect(abs(ModelMetrics.auc(scores: test.map(model.probability), labels: shuffled)! - 0.5) < 0.05)
    }

    @Test("AUC by hand: perfect, inverted, ties count half, one class is nil")
    func auc() {
        #expect(ModelMetrics.auc(scores: [0.1, 0.2, 0.8, 0.9], labels: [false, false, true, true]) == 1)
        #expect(ModelMetrics.auc(scores: [0.9, 0.8, 0.2, 0.1], labels: [false, false, true, true]) == 0)
        #expect(ModelMetrics.auc(scores: [0.5, 0.5], labels: [false, true]) == 0.5)
        // Pairs (pos, neg): (0.6 vs 0.4) win, (0.6 vs 0.6) tie, (0.3 vs 0.4) lose, (0.3 vs 0.6) lose → 1.5 / 4.
        #expect(ModelMetrics.auc(scores: [0.6, 0.3, 0.4, 0.6], labels: [true, true, false, false]) == 0.375)
        #expect(ModelMetrics.auc(scores: [0.1, 0.2], labels: [true, true]) == nil)
    }

    @Test("calibration bins and quantile thresholds")
    func calibrationAndQuantiles() {
        let bins = ModelMetrics.calibration(scores: [0.05, 0.05, 0.95, 0.91, 0.55], labels: [false, true, true, true, false])
        #expect(bins.map(\.count) == [2, 1, 2])
        #expect(bins[0].observed == 0.5 && bins[2].observed == 1 && abs(bins[2].predicted - 0.93) < 1e-12)
        let scores = (0..<100).map { Double($0) / 100 }
        #expect(ModelMetrics.quantile(scores, 0.8) == 0.8 && ModelMetrics.quantile(scores, 0.5) == 0.5)
        #expect(ModelMetrics.quantile([], 0.5) == 0)
    }
}
