import Foundation
import SegmentDomain
import SegmentRules
import SegmentStore

/// Checking, previewing and explaining rules against a tenant's data without
/// saving anything; and the one validation every saved rule passes.
public struct RuleEvaluation: Sendable {
    let store: RuleStore
    let segments: SegmentStore
    let predictive: PredictiveModels
    /// Events (and campaign responses) an explanation loads for one user at most.
    let explainEventLimit: Int
    let clock: @Sendable () -> Date

    public init(
        store: RuleStore, segments: SegmentStore, predictive: PredictiveModels, explainEventLimit: Int = 10_000,
        clock: @escaping @Sendable () -> Date
    ) {
        self.store = store
        self.segments = segments
        self.predictive = predictive
        self.explainEventLimit = explainEventLimit
        self.clock = clock
    }

    /// A parsed rule, or the diagnostics that stop it.
    public enum Parsed: Sendable {
        case rule(Rule)
        case invalid([RuleDiagnostic])
    }

    /// The rule of `source`, or the diagnostics that stop it (`field` names it in them).
    public static func parse(_ source: RuleSource, field: String) -> Parsed {
        switch source {
        case .ast(let rule): return .rule(rule)
        case .malformed(let diagnostics): return .invalid(diagnostics)
        case .text(let text):
            guard !text.isEmpty else { return .invalid([RuleDiagnostic(.error, "set the rule as text or as an AST", path: field)]) }
            do {
                return .rule(try RuleText.parse(text))
            } catch let error as RuleSyntaxError {
                return .invalid([RuleDiagnostic(error)])
            } catch {
                return .invalid([RuleDiagnostic(.error, "the rule text could not be read", path: "\(field).text")])
            }
        }
    }

    /// INVALID_ARGUMENT for a rule that cannot run, with every error as a field violation
    /// and a reason by the first error's kind (syntax, type mismatch, anything else).
    public static func rejection(_ diagnostics: [RuleDiagnostic], field: String) -> DomainError {
        let errors = diagnostics.filter { $0.severity == .error }
        var metadata: [String: String] = [:]
        if let first = errors.first, let line = first.line, let column = first.column {
            metadata = ["line": String(line), "column": String(column)]
        }
        let reason: DomainError.Reason =
            errors.first?.kind == .syntax ? .ruleSyntax : errors.contains { $0.kind == .typeMismatch } ? .typeMismatch : .ruleInvalid
        return DomainError(
            .invalidArgument, "\(field): " + (errors.first.map(\.description) ?? "invalid rule"), reason: reason, metadata: metadata,
            violations: errors.map { .init(field: $0.path.isEmpty ? "\(field).text" : $0.path, problem: $0.description) })
    }

    /// A rule that parses and has no errors against the tenant's catalog, with its
    /// warnings; INVALID_ARGUMENT naming `field` otherwise.
    /// - Parameter saving: The segment the rule is saved to: a reference to it is a cycle, which
    ///   saving reports by name, not a reference to a segment that does not exist.
    public func validRule(
        _ source: RuleSource, field: String, tenant: TenantID, saving segmentID: String? = nil
    ) async throws -> (Rule, [RuleDiagnostic]) {
        switch Self.parse(source, field: field) {
        case .invalid(let diagnostics):
            throw Self.rejection(diagnostics, field: field)
        case .rule(let rule):
            var catalog = try await store.catalog(tenant: tenant)
            if let segmentID { catalog.segments?.insert(segmentID) }
            let diagnostics = RuleValidator.validate(rule, catalog: catalog)
            if diagnostics.contains(where: { $0.severity == .error }) { throw Self.rejection(diagnostics, field: field) }
            return (rule, diagnostics)
        }
    }

    /// Parses and validates without failing: every diagnostic is in the answer.
    public func check(_ source: RuleSource, tenant: TenantID) async throws -> RuleCheck {
        switch Self.parse(source, field: "rule") {
        case .invalid(let diagnostics):
            return RuleCheck(rule: nil, diagnostics: diagnostics)
        case .rule(let rule):
            return RuleCheck(rule: rule, diagnostics: RuleValidator.validate(rule, catalog: try await store.catalog(tenant: tenant)))
        }
    }

    /// How many users the rule matches now, with a sample.
    public func preview(_ source: RuleSource, tenant: TenantID, sample: Int) async throws -> RulePreviewResult {
        guard (0...1000).contains(sample) else { throw DomainError.invalid("sample_size", "must be 0-1000 (0 means 10)") }
        let (rule, warnings) = try await validRule(source, field: "rule", tenant: tenant)
        let now = clock()
        let preview = try await store.preview(rule, tenant: tenant, now: now, sample: sample == 0 ? 10 : sample)
        return RulePreviewResult(rule: rule, preview: preview, warnings: warnings, evaluatedAt: now)
    }

    /// What to explain a user's membership of.
    public enum ExplainTarget: Sendable {
        case rule(RuleSource)
        /// A saved segment: its rule, or its model's score.
        case segment(String)
    }

    /// Why `userID` is or is not matched, node by node (or by score for a predictive segment).
    /// Only the user's newest ``explainEventLimit`` events and campaign responses are loaded
    /// (one user with millions must not exhaust a request's memory); past that the
    /// explanation is marked partial.
    public func explain(userID: String, target: ExplainTarget, tenant: TenantID) async throws -> MembershipExplanation {
        guard !userID.isEmpty else { throw DomainError.invalid("user_id", "set the user to explain") }
        let rule: Rule
        var segmentID: String?
        switch target {
        case .rule(let source):
            rule = try await validRule(source, field: "rule", tenant: tenant).0
        case .segment(let id):
            let segment = try await segments.get(tenant: tenant, segmentID: id, showDeleted: false)
            if let settings = segment.definition.predictive {
                return try await predictive.explain(userID: userID, segment: segment, settings: settings, tenant: tenant)
            }
            guard let parsed = try segment.definition.savedRule() else {
                throw DomainError(.failedPrecondition, "\(segment.name) is a \(segment.kind.rawValue) segment: it has no rule to explain")
            }
            rule = parsed
            segmentID = id
        }
        let now = clock()
        guard let (facts, evaluation, _, partial) = try await store.facts(tenant: tenant, userID: userID, now: now, eventLimit: explainEventLimit)
        else {
            throw DomainError.notFound("tenants/\(tenant)/users/\(userID)")
        }
        let explanation = RuleEvaluator(context: evaluation).explain(rule, facts)
        return MembershipExplanation(
            member: explanation.result, inLastRefresh: segmentID.map { facts.segments.contains($0) }, root: explanation, evaluatedAt: now,
            partial: partial, eventLimit: explainEventLimit)
    }
}
