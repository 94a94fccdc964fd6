import Foundation
import SegmentDomain

/// How good a model's scores are on held-out users.
public enum ModelMetrics {
    /// Area under the ROC curve: the probability that a random positive scores
    /// above a random negative (ties count half), by the rank-sum formula.
    /// nil without both classes.
    public static func auc(scores: [Double], labels: [Bool]) -> Double? {
        let positives = labels.filter { $0 }.count
        let negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let averageRank = Double(i + j + 2) / 2
            for k in i...j where labels[order[k]] { rankSum += averageRank }
            i = j + 1
        }
        let p = Double(positives)
        let n = Double(negatives)
        return (rankSum - p * (p + 1) / 2) / (p * n)
    }

    /// Predicted against observed positive rates in ten equal-width bins of the
    /// predicted probability (empty bins left out).
    public static func calibration(scores: [Double], labels: [Bool], bins: Int = 10) -> [(predicted: Double, observed: Double, count: Int)] {
        var sums = [Double](repeating: 0, count: bins)
        var hits = [Int](repeating: 0, count: bins)
        var counts = [Int](repeating: 0, count: bins)
        for (score, label) in zip(scores, labels) {
            let bin = min(bins - 1, max(0, Int(score * Double(bins))))
            sums[bin] += score
            counts[bin] += 1
            if label { hits[bin] += 1 }
        }
        return (0..<bins).compactMap { bin in
            counts[bin] == 0 ? nil : (sums[bin] / Double(counts[bin]), Double(hits[bin]) / Double(counts[bin]), counts[bin])
        }
    }

    /// The score at quantile `q` (0-1) of `scores`: the smallest score with at least `q` of the scores below it.
    public static func quantile(_ scores: [Double], _ q: Double) -> Double {
        guard !scores.isEmpty else { return 0 }
        let sorted = scores.sorted()
        let index = min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.down))))
        return sorted[index]
    }
}
