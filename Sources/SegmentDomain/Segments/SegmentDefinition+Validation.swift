import Foundation
import SegmentRules

extension SegmentDefinition {
    /// Checks that the definition has exactly the settings of `kind` (a rule, a
    /// connector, or predictive settings), each in canonical form, and that the
    /// shared fields are within their limits, and that only a rule-based segment
    /// is real-time. The one place these rules live.
    public func validate(kind: SegmentKind) throws {
        switch kind {
        case .ruleBased:
            guard ruleText != nil, connector == nil, predictive == nil else {
                throw DomainError.invalid("segment.rule", "a rule-based segment has a rule (text or AST), and no connector or predictive settings")
            }
        case .connector:
            guard let connector, ruleText == nil, predictive == nil else {
                throw DomainError.invalid("segment.connector", "a connector segment has connector settings, and no rule or predictive settings")
            }
            guard try connector.validated() == connector else { throw DomainError.invalid("segment.connector", "not in canonical form") }
        case .predictive:
            guard let predictive, ruleText == nil, connector == nil else {
                throw DomainError.invalid(
                    "segment.predictive", "a predictive segment has predictive settings (the goal, the event, the bucket), and no rule")
            }
            guard try predictive.validated() == predictive else { throw DomainError.invalid("segment.predictive", "not in canonical form") }
        }
        guard !realTime || kind == .ruleBased else {
            throw DomainError.invalid("segment.real_time", "only a rule-based segment can be real-time")
        }
        guard (1...100).contains(displayName.count) else { throw DomainError.invalid("segment.display_name", "1-100 characters") }
        guard description.count <= 500 else { throw DomainError.invalid("segment.description", "at most 500 characters") }
        _ = try schedule.validated()
    }
}

extension SegmentRecord {
    /// FAILED_PRECONDITION (SEGMENT_PAUSED) unless the segment is active: a paused or
    /// archived segment keeps its last membership and refuses `action` until resumed.
    public func requireActive(to action: String) throws {
        guard state == .active else { throw DomainError.segmentInactive(name, state: state.rawValue, action: action) }
    }
}

extension SegmentDefinition {
    /// The saved rule's AST: as stored with it, or parsed from its text for a rule
    /// saved before the AST was kept. Nil for a segment without a rule.
    public func savedRule() throws -> Rule? {
        if let ruleAST { return ruleAST }
        return try ruleText.map(RuleText.parse)
    }
}
