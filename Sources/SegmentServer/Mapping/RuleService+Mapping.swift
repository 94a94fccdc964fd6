import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentdAPI

/// How `RuleService` maps between messages and domain values.
extension RuleService {
    /// The rule a request carries (`field` names it in diagnostics): its AST, converted, or its text.
    static func source(_ definition: Segmentd_V1_RuleDefinition, field: String) -> RuleSource {
        guard definition.hasAst else { return .text(definition.text) }
        do {
            return .ast(try RuleProtoMapping.rule(definition.ast, path: "\(field).ast"))
        } catch let error as RuleConversionError {
            return .malformed([RuleDiagnostic(.error, error.reason, path: error.path)])
        } catch {
            return .malformed([RuleDiagnostic(.error, "the AST is malformed", path: "\(field).ast")])
        }
    }

    /// Both forms of `rule` and its restatement.
    static func definition(_ rule: Rule) -> Segmentd_V1_RuleDefinition {
        .with {
            $0.ast = RuleProtoMapping.proto(rule)
            $0.text = RuleText.print(rule)
            $0.description_p = RuleRestatement.describe(rule)
        }
    }

    /// A saved definition's rule in both forms with its restatement, as stored when it was saved
    /// (revisions saved before the forms were kept are parsed from their text).
    static func definition(_ saved: SegmentDefinition) -> Segmentd_V1_RuleDefinition? {
        guard let text = saved.ruleText else { return nil }
        guard let ast = saved.ruleAST, let description = saved.ruleDescription else {
            return (try? RuleText.parse(text)).map(definition)
        }
        return .with {
            $0.ast = RuleProtoMapping.proto(ast)
            $0.text = text
            $0.description_p = description
        }
    }

    static func proto(_ diagnostic: RuleDiagnostic) -> Segmentd_V1_RuleDiagnostic {
        .with {
            $0.severity = diagnostic.severity == .error ? .error : .warning
            $0.message = diagnostic.message
            $0.line = Int32(diagnostic.line ?? 0)
            $0.column = Int32(diagnostic.column ?? 0)
            $0.excerpt = diagnostic.excerpt ?? ""
            $0.expected = diagnostic.expected
            $0.path = diagnostic.path
            $0.suggestion = diagnostic.suggestion ?? ""
        }
    }

    static func proto(_ explanation: MembershipExplanation) -> Segmentd_V1_ExplainMembershipResponse {
        .with {
            $0.member = explanation.member
            $0.root = proto(explanation.root)
            $0.evaluateTime = .init(date: explanation.evaluatedAt)
            $0.partial = explanation.partial
            if let limit = explanation.eventLimit { $0.eventLimit = Int32(clamping: limit) }
            if let inLastRefresh = explanation.inLastRefresh { $0.inLastRefresh = inLastRefresh }
            if let prediction = explanation.prediction {
                $0.prediction = .with {
                    $0.score = prediction.score
                    $0.bucket = prediction.bucket
                    $0.contributions = prediction.contributions.map { item in
                        .with {
                            $0.feature = item.feature
                            $0.value = item.value
                            $0.contribution = item.contribution
                        }
                    }
                }
            }
        }
    }

    static func proto(_ explanation: Explanation) -> Segmentd_V1_ExplainNode {
        .with {
            $0.text = explanation.text
            $0.result = explanation.result
            $0.observed = explanation.observed
            $0.children = explanation.children.map(proto)
        }
    }
}
