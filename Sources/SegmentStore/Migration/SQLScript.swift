import SegmentDomain

/// Splits a SQL script into statements.
///
/// PostgresNIO speaks only the extended query protocol, which takes one statement
/// at a time, so migrations are split here. Semicolons inside quotes, quoted
/// identifiers, dollar-quoted bodies (`$fn$ … $fn$`) and comments do not split.
enum SQLScript {
    /// The statements of `script`, trimmed, without empty ones or their semicolons.
    static func statements(_ script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        let chars = Array(script)
        var index = 0

        func flush() {
            let trimmed = current.trimmingWhitespace()
            if !trimmed.isEmpty && !trimmed.isOnlyComments { statements.append(trimmed) }
            current = ""
        }

        while index < chars.count {
            let char = chars[index]
            let next: Character? = index + 1 < chars.count ? chars[index + 1] : nil
            switch char {
            case "-" where next == "-":
                while index < chars.count && chars[index] != "\n" {
                    current.append(chars[index])
                    index += 1
                }
                continue
            case "/" where next == "*":
                while index < chars.count && !(chars[index] == "*" && index + 1 < chars.count && chars[index + 1] == "/") {
                    current.append(chars[index])
                    index += 1
                }
                current.append("*/")
                index += 2
                continue
            case "'", "\"":
                current.append(char)
                index += 1
                while index < chars.count {
                    current.append(chars[index])
                    if chars[index] == char {
                        if index + 1 < chars.count && chars[index + 1] == char {
                            current.append(char)
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    index += 1
                }
                continue
            case "$":
                // A dollar-quote tag: $$ or $identifier$.
                var end = index + 1
                while end < chars.count && (chars[end].isLetter || chars[end].isNumber || chars[end] == "_") { end += 1 }
                if end < chars.count && chars[end] == "$" && !(index > 0 && (chars[index - 1].isLetter || chars[index - 1].isNumber)) {
                    let tag = String(chars[index...end])
                    current += tag
                    index = end + 1
                    let tagChars = Array(tag)
                    while index < chars.count {
                        if chars[index] == "$" && index + tagChars.count <= chars.count
                            && Array(chars[index..<index + tagChars.count]) == tagChars
                        {
                            current += tag
                            index += tagChars.count
                            break
                        }
                        current.append(chars[index])
                        index += 1
                    }
                    continue
                }
            case ";":
                flush()
                index += 1
                continue
            default:
                break
            }
            current.append(char)
            index += 1
        }
        flush()
        return statements
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.last, last.isWhitespace { scalars = scalars.dropLast() }
        return String(scalars)
    }

    /// True when every non-blank line is a `--` comment.
    var isOnlyComments: Bool {
        split(separator: "\n").allSatisfy { line in
            let trimmed = String(line).trimmingWhitespace()
            return trimmed.isEmpty || trimmed.hasPrefix("--")
        }
    }
}
