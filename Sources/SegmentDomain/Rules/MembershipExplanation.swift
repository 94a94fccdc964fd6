import Foundation
import SegmentRules

/// Why a user is (or is not) in a segment or matched by a rule: the rule's tree
/// with what was observed at each node, or for a predictive segment the score
/// and the features that moved it.
public struct MembershipExplanation: Sendable {
    public var member: Bool
    /// Whether the user was a member after the segment's last refresh (nil for a rule not saved as a segment).
    public var inLastRefresh: Bool?
    public var root: Explanation
    public var prediction: PredictionExplanation?
    /// The instant the rule was evaluated at (or the score computed).
    public var evaluatedAt: Date
    /// True when the user has more events or campaign responses than an explanation loads:
    /// only the newest ``eventLimit`` of each were evaluated, so conditions over older ones
    /// (counts, first times, "did not") may read differently than a refresh does.
    public var partial: Bool
    /// The most events (and campaign responses) an explanation loads for one user; nil where none are loaded (a score).
    public var eventLimit: Int?

    public init(
        member: Bool, inLastRefresh: Bool?, root: Explanation, prediction: PredictionExplanation? = nil, evaluatedAt: Date,
        partial: Bool = false, eventLimit: Int? = nil
    ) {
        self.member = member
        self.inLastRefresh = inLastRefresh
        self.root = root
        self.prediction = prediction
        self.evaluatedAt = evaluatedAt
        self.partial = partial
        self.eventLimit = eventLimit
    }
}

/// A predictive score and the features that contributed most to it.
public struct PredictionExplanation: Sendable {
    public struct Contribution: Sendable {
        public var feature: String
        public var value: Double
        public var contribution: Double

        public init(feature: String, value: Double, contribution: Double) {
            self.feature = feature
            self.value = value
            self.contribution = contribution
        }
    }

    public var score: Double
    public var bucket: String
    public var contributions: [Contribution]

    public init(score: Double, bucket: String, contributions: [Contribution]) {
        self.score = score
        self.bucket = bucket
        self.contributions = contributions
    }
}
