import Foundation
import SegmentDomain

/// L2-regularised logistic regression on standardised features, fitted by
/// Newton's method (iteratively reweighted least squares): a handful of
/// iterations converge exactly, with no learning rate to tune. The penalty
/// `lambda` applies to the weights, not the intercept, on the summed log-loss
/// (scikit-learn's `C = 1 / lambda`).
public struct LogisticRegression: Sendable, Equatable {
    public var means: [Double]
    public var scales: [Double]
    public var weights: [Double]
    public var intercept: Double

    public init(means: [Double], scales: [Double], weights: [Double], intercept: Double) {
        self.means = means
        self.scales = scales
        self.weights = weights
        self.intercept = intercept
    }

    /// The log-odds of `features`.
    public func logit(_ features: [Double]) -> Double {
        var z = intercept
        for j in weights.indices { z += weights[j] * (features[j] - means[j]) / scales[j] }
        return z
    }

    public func probability(_ features: [Double]) -> Double {
        Self.sigmoid(logit(features))
    }

    /// Each feature's part in the log-odds (weight × standardised value).
    public func contributions(_ features: [Double]) -> [Double] {
        weights.indices.map { weights[$0] * (features[$0] - means[$0]) / scales[$0] }
    }

    static func sigmoid(_ z: Double) -> Double {
        z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
    }

    /// Fits `rows` (n × d, row-major) to `labels`.
    public static func fit(rows: [[Double]], labels: [Bool], lambda: Double = 1, maxIterations: Int = 30) -> LogisticRegression {
        let n = rows.count
        let d = rows.first?.count ?? 0
        // Standardise: mean 0, variance 1 (constant columns keep scale 1 and end with weight 0).
        var means = [Double](repeating: 0, count: d)
        var scales = [Double](repeating: 1, count: d)
        for row in rows { for j in 0..<d { means[j] += row[j] } }
        for j in 0..<d { means[j] /= Double(max(n, 1)) }
        var variances = [Double](repeating: 0, count: d)
        for row in rows {
            for j in 0..<d {
                let c = row[j] - means[j]
                variances[j] += c * c
            }
        }
        for j in 0..<d {
            let sd = (variances[j] / Double(max(n, 1))).squareRoot()
            scales[j] = sd > 1e-12 ? sd : 1
        }
        // Design matrix with the intercept as column 0.
        let p = d + 1
        var x = [Double](repeating: 0, count: n * p)
        for (i, row) in rows.enumerated() {
            x[i * p] = 1
            for j in 0..<d { x[i * p + j + 1] = (row[j] - means[j]) / scales[j] }
        }
        let y = labels.map { $0 ? 1.0 : 0.0 }
        var beta = [Double](repeating: 0, count: p)
        let positives = y.reduce(0, +)
        if positives > 0 && positives < Double(n) { beta[0] = log(positives / (Double(n) - positives)) }
        var previousLoss = Double.infinity
        for _ in 0..<maxIterations {
            var gradient = [Double](repeating: 0, count: p)
            var hessian = [Double](repeating: 0, count: p * p)
            var loss = 0.0
            for i in 0..<n {
                let base = i * p
                var z = 0.0
                for k in 0..<p { z += x[base + k] * beta[k] }
                let mu = sigmoid(z)
                loss += y[i] > 0 ? -log(max(mu, 1e-300)) : -log(max(1 - mu, 1e-300))
                let residual = mu - y[i]
                let w = max(mu * (1 - mu), 1e-12)
                for a in 0..<p {
                    let xa = x[base + a]
                    if xa == 0 { continue }
                    gradient[a] += residual * xa
                    let wa = w * xa
                    for b in a..<p { hessian[a * p + b] += wa * x[base + b] }
                }
            }
            for k in 1..<p {
                loss += 0.5 * lambda * beta[k] * beta[k]
                gradient[k] += lambda * beta[k]
                hessian[k * p + k] += lambda
            }
            for a in 0..<p { for b in 0..<a { hessian[a * p + b] = hessian[b * p + a] } }
            hessian[0] += 1e-9
            guard let step = choleskySolve(hessian, gradient, size: p) else { break }
            for k in 0..<p { beta[k] -= step[k] }
            if abs(previousLoss - loss) < 1e-9 * max(1, abs(loss)) { break }
            previousLoss = loss
        }
        return LogisticRegression(means: means, scales: scales, weights: Array(beta.dropFirst()), intercept: beta[0])
    }

    /// Solves A x = b for a symmetric positive-definite A (nil when it is not).
    static func choleskySolve(_ a: [Double], _ b: [Double], size n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = a[i * n + j]
                for k in 0..<j { sum -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard sum > 0 else { return nil }
                    l[i * n + i] = sum.squareRoot()
                } else {
                    l[i * n + j] = sum / l[j * n + j]
                }
            }
        }
        var z = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var sum = b[i]
            for k in 0..<i { sum -= l[i * n + k] * z[k] }
            z[i] = sum / l[i * n + i]
        }
        var x = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var sum = z[i]
            for k in (i + 1)..<n { sum -= l[k * n + i] * x[k] }
            x[i] = sum / l[i * n + i]
        }
        return x
    }
}
