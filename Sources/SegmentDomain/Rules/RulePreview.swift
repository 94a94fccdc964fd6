import Foundation
import SegmentRules

/// How many users match, and the first `sample` of them (by index, so repeatable).
public struct RulePreview: Sendable {
    public let count: Int64
    public let sample: [String]
    public let context: EvaluationContext

    package init(count: Int64, sample: [String], context: EvaluationContext) {
        self.count = count
        self.sample = sample
        self.context = context
    }
}
