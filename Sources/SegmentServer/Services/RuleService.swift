import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentdAPI

/// `segmentd.v1.RuleService`: check, preview and explain rules without saving anything.
struct RuleService: Segmentd_V1_RuleService.SimpleServiceProtocol {
    let rules: RuleEvaluation

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
            target = .segment(try ResourceName.segmentReference(name, field: "segment", for: principal).id)
        case nil:
            throw DomainError.invalid("target", "set the rule (or segment) to explain")
        }
        return Self.proto(try await rules.explain(userID: request.userID, target: target, tenant: tenant))
    }

}
