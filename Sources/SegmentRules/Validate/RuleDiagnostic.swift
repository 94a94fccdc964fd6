/// A problem found in a rule: an error (the rule cannot be saved or run) or a
/// warning (it can, but probably does not mean what was intended).
public struct RuleDiagnostic: Equatable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        case error, warning
    }

    /// What kind of problem it is, so callers classify it without reading the message.
    public enum Kind: String, Sendable {
        /// The text does not parse.
        case syntax
        /// A value is compared or aggregated as another type than the catalog records.
        case typeMismatch
        /// Anything else wrong for the catalog (unknown or misused names, impossible ranges, cycles).
        case invalid
    }

    public var severity: Severity
    public var kind: Kind
    public var message: String
    /// Where in the AST (`all[1].behavior.where[0]`); empty for the whole rule.
    public var path: String
    /// For text that did not parse: 1-based line and column, what fit there, and the line with a caret.
    public var line: Int?
    public var column: Int?
    public var expected: [String]
    public var excerpt: String?
    /// For a name the catalog has not seen: the known name closest to it (`purchase` for
    /// `purchse`), also named at the end of the message.
    public var suggestion: String?

    public init(
        _ severity: Severity, _ message: String, path: String = "", line: Int? = nil, column: Int? = nil,
        expected: [String] = [], excerpt: String? = nil, kind: Kind? = nil, suggestion: String? = nil
    ) {
        self.severity = severity
        self.kind = kind ?? (line != nil ? .syntax : .invalid)
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.expected = expected
        self.excerpt = excerpt
        self.suggestion = suggestion
    }

    /// A diagnostic for text that does not parse.
    public init(_ error: RuleSyntaxError) {
        self.init(.error, error.message, line: error.line, column: error.column, expected: error.expected, excerpt: error.excerpt)
    }

    public var description: String {
        var text = severity.rawValue + ": "
        if let line, let column { text += "line \(line), column \(column): " } else if !path.isEmpty { text += path + ": " }
        text += message
        if !expected.isEmpty { text += " (expected \(RuleSyntaxError.list(expected)))" }
        if let excerpt { text += "\n" + excerpt }
        return text
    }
}
