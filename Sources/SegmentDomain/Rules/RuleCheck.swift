import Foundation
import SegmentRules

/// A rule that was checked against the tenant's catalog: the parsed rule (nil
/// when it did not parse) and every error and warning.
public struct RuleCheck: Sendable {
    public var rule: Rule?
    public var diagnostics: [RuleDiagnostic]
    public var isValid: Bool { rule != nil && !diagnostics.contains { $0.severity == .error } }

    public init(rule: Rule?, diagnostics: [RuleDiagnostic]) {
        self.rule = rule
        self.diagnostics = diagnostics
    }
}

/// A rule evaluated over the tenant's users without saving anything.
public struct RulePreviewResult: Sendable {
    public var rule: Rule
    public var preview: RulePreview
    public var warnings: [RuleDiagnostic]
    public var evaluatedAt: Date

    public init(rule: Rule, preview: RulePreview, warnings: [RuleDiagnostic], evaluatedAt: Date) {
        self.rule = rule
        self.preview = preview
        self.warnings = warnings
        self.evaluatedAt = evaluatedAt
    }
}
