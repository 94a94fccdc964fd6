import Foundation
import GRPCCore
import SegmentRules
import SegmentStore
import SegmentdAPI
import SegmentDomain

/// `segmentd.v1.RuleService`: check, preview and explain rules without saving anything.
struct RuleService: Segmentd_V1_RuleService.SimpleServiceProtocol {
    let store: RuleStore
    let segments: SegmentStore
    let predictive: PredictiveStore
    let clock: @Sendable () -> Date

    /// A rule from the request, or the diagnostics that stop it.
    enum Parsed {
        case rule(Rule)
        case invalid([RuleDiagnostic])
    }

    /// Reads the AST or the text of `definition` (`field` names it in errors).
    static func parse(_ definition: Segmentd_V1_RuleDefinition, field: String) -> Parsed {
        if definition.hasAst {
            do {
                return .rule(try RuleProtoMapping.rule(definition.ast, path: "\(field).ast"))
            } catch let error as RuleConversionError {
                return .invalid([RuleDiagnostic(.error, error.reason, path: error.path)])
            } catch {
                return .invalid([RuleDiagnostic(.error, "the AST is malformed", path: "\(field).ast")])
            }
        }
        guard !definition.text.isEmpty else {
            return .invalid([RuleDiagnostic(.error, "set the rule as text or as an AST", path: field)])
        }
        do {
            return .rule(try RuleText.parse(definition.text))
        } catch {
            return .invalid([RuleDiagnostic(error)])
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

    /// INVALID_ARGUMENT for a rule that cannot run, with every error as a field violation.
    static func rejection(_ diagnostics: [RuleDiagnostic], field: String) -> APIError {
        let errors = diagnostics.filter { $0.severity == .error }
        let syntax = errors.first?.line != nil
        var metadata: [String: String] = [:]
        if let first = errors.first, let line = first.line, let column = first.column {
            metadata = ["line": String(line), "column": String(column)]
        }
        return APIError(
            .invalidArgument, "\(field): " + (errors.first.map(\.description) ?? "invalid rule"),
            reason: syntax ? "RULE_SYNTAX" : (errors.contains { $0.message.contains(" is a ") } ? "TYPE_MISMATCH" : "RULE_INVALID"),
            metadata: metadata,
            fieldViolations: errors.map { (field: $0.path.isEmpty ? "\(field).text" : $0.path, description: $0.description) })
    }

    /// A rule that parses and has no errors against the catalog, with its warnings.
    private func validRule(_ definition: Segmentd_V1_RuleDefinition, tenant: TenantID) async throws -> (Rule, [RuleDiagnostic]) {
        try await Self.validRule(definition, field: "rule", tenant: tenant, store: store)
    }

    /// A rule that parses and has no errors against the tenant's catalog, with its warnings;
    /// INVALID_ARGUMENT naming `field` otherwise.
    static func validRule(
        _ definition: Segmentd_V1_RuleDefinition, field: String, tenant: TenantID, store: RuleStore
    ) async throws -> (Rule, [RuleDiagnostic]) {
        switch parse(definition, field: field) {
        case .invalid(let diagnostics):
            throw rejection(diagnostics, field: field)
        case .rule(let rule):
            let diagnostics = RuleValidator.validate(rule, catalog: try await store.catalog(tenant: tenant))
            if diagnostics.contains(where: { $0.severity == .error }) { throw rejection(diagnostics, field: field) }
            return (rule, diagnostics)
        }
    }

    func checkRule(request: Segmentd_V1_CheckRuleRequest, context: ServerContext) async throws -> Segmentd_V1_CheckRuleResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        switch Self.parse(request.rule, field: "rule") {
        case .invalid(let diagnostics):
            return .with {
                $0.diagnostics = diagnostics.map(Self.proto)
                $0.valid = false
            }
        case .rule(let rule):
            let diagnostics = RuleValidator.validate(rule, catalog: try await store.catalog(tenant: tenant))
            return .with {
                $0.rule = Self.definition(rule)
                $0.diagnostics = diagnostics.map(Self.proto)
                $0.valid = !diagnostics.contains { $0.severity == .error }
            }
        }
    }

    func previewRule(request: Segmentd_V1_PreviewRuleRequest, context: ServerContext) async throws -> Segmentd_V1_PreviewRuleResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        guard (0...1000).contains(request.sampleSize) else { throw DomainError.invalid("sample_size", "must be 0-1000 (0 means 10)") }
        let (rule, warnings) = try await validRule(request.rule, tenant: tenant)
        let now = clock()
        let preview = try await store.preview(rule, tenant: tenant, now: now, sample: request.sampleSize == 0 ? 10 : Int(request.sampleSize))
        return .with {
            $0.rule = Self.definition(rule)
            $0.count = preview.count
            $0.sampleUserIds = preview.sample
            $0.diagnostics = warnings.map(Self.proto)
            $0.evaluateTime = .init(date: now)
        }
    }

    func explainMembership(
        request: Segmentd_V1_ExplainMembershipRequest, context: ServerContext
    ) async throws -> Segmentd_V1_ExplainMembershipResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        guard !request.userID.isEmpty else { throw DomainError.invalid("user_id", "set the user to explain") }
        let rule: Rule
        var segmentID: String?
        switch request.target {
        case .rule(let definition)?:
            rule = try await validRule(definition, tenant: tenant).0
        case .segment(let name)?:
            let (_, id) = try ResourceName.child(name, collection: "segments", field: "segment", for: principal)
            let segment = try await segments.get(tenant: tenant, segmentID: id, showDeleted: false)
            if let settings = segment.definition.predictive {
                return try await PredictiveService.explain(userID: request.userID, segment: segment, settings: settings, tenant: tenant, store: predictive)
            }
            guard let text = segment.definition.ruleText, let parsed = try? RuleText.parse(text) else {
                throw APIError(.failedPrecondition, "\(name) is a \(segment.kind.rawValue) segment: it has no rule to explain", reason: "FAILED_PRECONDITION")
            }
            rule = parsed
            segmentID = id
        case nil:
            throw DomainError.invalid("target", "set the rule (or segment) to explain")
        }
        let now = clock()
        guard let (facts, evaluation, _) = try await store.facts(tenant: tenant, userID: request.userID, now: now) else {
            throw DomainError.notFound("tenants/\(tenant)/users/\(request.userID)")
        }
        let explanation = RuleEvaluator(context: evaluation).explain(rule, facts)
        return .with {
            $0.member = explanation.result
            $0.root = Self.proto(explanation)
            $0.evaluateTime = .init(date: now)
            if let segmentID { $0.inLastRefresh = facts.segments.contains(segmentID) }
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
