/// Words of the rule language. A name that is one of them, or that is not a
/// plain `[A-Za-z_][A-Za-z0-9_]*` word, is written in backticks where it could
/// be read as a keyword.
enum RuleKeywords {
    static let reserved: Set<String> = [
        "ago", "all", "and", "any", "at", "avg", "before", "between", "campaign", "city", "clicked", "contains",
        "converted", "country", "did", "ends", "exactly", "exists", "false", "fewer", "first", "has", "in", "is",
        "last", "least", "less", "location", "max", "min", "month", "more", "most", "no", "not", "of", "opened", "or",
        "other", "profile", "received", "seen", "segment", "set", "since", "starts", "sum", "tag", "than", "this",
        "time", "times", "today", "true", "user", "was", "week", "where", "with", "within", "yesterday", "zone",
    ]

    /// Keywords read in any case (`AND`, `Or`, `NOT`), so rules written with
    /// capitalised connectives parse; the printer writes them in lower case.
    /// Only these three: the rest of the language stays lower case, which keeps
    /// names such as `Today` or `City` plain words.
    static let caseInsensitive: Set<String> = ["and", "or", "not"]

    /// The keyword a word reads as: `AND` is `and`; other words are unchanged.
    static func normalized(_ word: String) -> String {
        let lower = word.lowercased()
        return caseInsensitive.contains(lower) ? lower : word
    }

    /// Whether a word reads as a keyword (`and`, `AND`, `where`; not `Where`).
    static func isReserved(_ word: String) -> Bool {
        reserved.contains(normalized(word))
    }

    /// A plain word: starts with a letter or `_`, then letters, digits, `_`.
    static func isPlainWord(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, RuleLexer.isWordStart(first) else { return false }
        return text.unicodeScalars.allSatisfy(RuleLexer.isWordPart)
    }
}
