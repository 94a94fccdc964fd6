import Foundation

/// Rule text that does not parse: where, what was found, and what would have fit.
public struct RuleSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    /// 1-based line.
    public let line: Int
    /// 1-based column, in Unicode scalars.
    public let column: Int
    /// What is wrong, in a sentence.
    public let message: String
    /// What the parser would have accepted here (`'and'`, `a number`).
    public let expected: [String]
    /// The offending line and a caret under the column.
    public let excerpt: String

    init(in text: [Unicode.Scalar], at offset: Int, message: String, expected: [String] = []) {
        var line = 1
        var lineStart = 0
        for index in 0..<min(offset, text.count) where text[index] == "\n" {
            line += 1
            lineStart = index + 1
        }
        var lineEnd = lineStart
        while lineEnd < text.count, text[lineEnd] != "\n" { lineEnd += 1 }
        let column = offset - lineStart + 1
        var lineText = ""
        lineText.unicodeScalars.append(contentsOf: text[lineStart..<lineEnd])
        // Long lines are cut around the column so the caret stays readable.
        let window = 60
        let cut = max(0, column - 1 - window)
        var visible = ""
        visible.unicodeScalars.append(contentsOf: lineText.unicodeScalars.dropFirst(cut).prefix(2 * window))
        let prefix = cut > 0 ? "…" : ""
        self.line = line
        self.column = column
        self.message = message
        self.expected = expected
        self.excerpt = prefix + visible + "\n" + String(repeating: " ", count: prefix.count + column - 1 - cut) + "^"
    }

    public var description: String {
        var text = "line \(line), column \(column): \(message)"
        if !expected.isEmpty { text += " (expected \(Self.list(expected)))" }
        return text + "\n" + excerpt
    }

    static func list(_ items: [String]) -> String {
        var unique: [String] = []
        for item in items where !unique.contains(item) { unique.append(item) }
        switch unique.count {
        case 0: return ""
        case 1: return unique[0]
        default: return unique.dropLast().joined(separator: ", ") + " or " + unique.last!
        }
    }
}
