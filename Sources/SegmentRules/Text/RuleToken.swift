import Foundation

/// A token of the rule text language, with where it starts.
struct RuleToken: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        /// A bare word: a keyword or a name (`did`, `purchase`).
        case word(String)
        /// A name in backticks (`` `odd name` ``), never a keyword.
        case quotedName(String)
        /// A string literal in double quotes.
        case string(String)
        /// A number (`3`, `-2.5`, `1e-05`).
        case number(Double)
        /// A number with a unit, no space between (`24h`, `10km`, `500m`).
        case measure(Double, unit: String)
        /// A time (`2026-01-01`, `2026-01-01T10:30:00Z`).
        case time(Date)
        /// Punctuation or an operator: `( ) [ ] , . = != < <= > >=`.
        case symbol(String)
        case end
    }

    let kind: Kind
    /// Offset of the first character, in characters.
    let offset: Int
    /// Length in characters.
    let length: Int

    /// How the token reads in error messages.
    var display: String {
        switch kind {
        case .word(let word): return "'\(word)'"
        case .quotedName(let name): return "`\(name)`"
        case .string: return "a string"
        case .number: return "a number"
        case .measure(_, let unit): return "a number with unit '\(unit)'"
        case .time: return "a time"
        case .symbol(let symbol): return "'\(symbol)'"
        case .end: return "the end of the rule"
        }
    }
}
