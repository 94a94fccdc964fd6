import SegmentRules

/// A rule as a request carries it: text for people, an AST for programs, or an
/// AST the gRPC layer could not convert (the diagnostics say where).
public enum RuleSource: Sendable {
    case text(String)
    case ast(Rule)
    case malformed([RuleDiagnostic])
}
