import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentdAPI

/// `segmentd.v1.RuleService`: check, preview and explain rules without saving anything.
struct RuleService: Segmentd_V1_RuleService.SimpleServiceProtocol {
    let rules: RuleEvaluation

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
        }
    }

    func checkRule(request: Segmentd_V1_CheckRuleRequest, context: ServerContext) async throws -> Segmentd_V1_CheckRuleResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let check = try await rules.check(Self.source(request.rule, field: "rule"), tenant: tenant)
        return .with {
            if let rule = check.rule { $0.rule = Self.definition(rule) }
            $0.diagnostics = check.diagnostics.map(Self.proto)
            $0.valid = check.isValid
        }
    }

    func previewRule(request: Segmentd_V1_PreviewRuleRequest, context: ServerContext) async throws -> Segmentd_V1_PreviewRuleResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let result = try await rules.preview(Self.source(request.rule, field: "rule"), tenant: tenant, sample: Int(request.sampleSize))
        return .with {
            $0.rule = Self.definition(result.rule)
            $0.count = result.preview.count
            $0.sampleUserIds = result.preview.sample
            $0.diagnostics = result.warnings.map(Self.proto)
            $0.evaluateTime = .init(date: result.evaluatedAt)
        }
    }

    func explainMembership(
        request: Segmentd_V1_ExplainMembershipRequest, context: ServerContext
    ) async throws -> Segmentd_V1_ExplainMembershipResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let target: RuleEvaluation.ExplainTarget
        switch request.target {
        case .rule(let definition)?:
            target = .rule(Self.source(definition, field: "rule"))
        case .segment(let name)?:
            target = .segment(try ResourceName.child(name, collection: "segments", field: "segment", for: principal).id)
        case nil:
            throw DomainError.invalid("target", "set the rule (or segment) to explain")
        }
        return Self.proto(try await rules.explain(userID: request.userID, target: target, tenant: tenant))
    }

    static func proto(_ explanation: MembershipExplanation) -> Segmentd_V1_ExplainMembershipResponse {
        .with {
            $0.member = explanation.member
            $0.root = proto(explanation.root)
            $0.evaluateTime = .init(date: explanation.evaluatedAt)
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
