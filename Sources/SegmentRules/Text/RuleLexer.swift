import Foundation

/// Splits rule text into tokens. `#` starts a comment to the end of the line.
struct RuleLexer {
    let text: [Unicode.Scalar]
    private var position = 0

    init(_ text: [Unicode.Scalar]) {
        self.text = text
    }

    /// All tokens, ending with `.end`.
    static func tokens(_ text: [Unicode.Scalar]) throws(RuleSyntaxError) -> [RuleToken] {
        var lexer = RuleLexer(text)
        var tokens: [RuleToken] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private func peek(_ ahead: Int = 0) -> Unicode.Scalar? {
        position + ahead < text.count ? text[position + ahead] : nil
    }

    private func error(_ message: String, at offset: Int, expected: [String] = []) -> RuleSyntaxError {
        RuleSyntaxError(in: text, at: offset, message: message, expected: expected)
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
    static func isWordStart(_ c: Unicode.Scalar) -> Bool { c == "_" || isLetter(c) }
    static func isWordPart(_ c: Unicode.Scalar) -> Bool { isWordStart(c) || isDigit(c) }
    static func isDigit(_ c: Unicode.Scalar?) -> Bool { c.map { ("0"..."9").contains($0) } ?? false }
    static func isHexDigit(_ c: Unicode.Scalar) -> Bool { isDigit(c) || ("a"..."f").contains(c) || ("A"..."F").contains(c) }
    static func digitValue(_ c: Unicode.Scalar?) -> Int? { isDigit(c) ? Int(c!.value - 48) : nil }
    func string(_ range: Range<Int>) -> String {
        var out = ""
        out.unicodeScalars.append(contentsOf: text[range])
        return out
    }

    mutating func next() throws(RuleSyntaxError) -> RuleToken {
        // Whitespace and comments.
        while let c = peek() {
            if c.properties.isWhitespace {
                position += 1
            } else if c == "#" {
                while let d = peek(), d != "\n" { position += 1 }
            } else {
                break
            }
        }
        let start = position
        guard let c = peek() else { return RuleToken(kind: .end, offset: start, length: 0) }
        func token(_ kind: RuleToken.Kind) -> RuleToken { RuleToken(kind: kind, offset: start, length: position - start) }

        if Self.isWordStart(c) {
            while let d = peek(), Self.isWordPart(d) { position += 1 }
            return token(.word(string(start..<position)))
        }
        if Self.isDigit(c) || (c == "-" && Self.isDigit(peek(1))) {
            if let date = try time() { return token(.time(date)) }
            let value = try number()
            if let d = peek(), Self.isLetter(d) {
                let unitStart = position
                while let e = peek(), Self.isLetter(e) { position += 1 }
                return token(.measure(value, unit: string(unitStart..<position)))
            }
            return token(.number(value))
        }
        switch c {
        case "\"":
            return token(.string(try quoted(by: "\"", what: "string")))
        case "`":
            let name = try quoted(by: "`", what: "name")
            return token(.quotedName(name))
        case "(", ")", "[", "]", ",", ".":
            position += 1
            return token(.symbol(String(Character(c))))
        case "=":
            position += 1
            if peek() == "=" { position += 1 }  // `==` reads as `=`.
            return token(.symbol("="))
        case "!":
            guard peek(1) == "=" else { throw error("'!' must be followed by '='", at: start, expected: ["'!='"]) }
            position += 2
            return token(.symbol("!="))
        case "<", ">":
            position += 1
            if peek() == "=" {
                position += 1
                return token(.symbol(String(Character(c)) + "="))
            }
            return token(.symbol(String(Character(c))))
        case "'":
            throw singleQuoted(at: start)
        default:
            throw error("unexpected character '\(c.escaped(asASCII: false))'", at: start)
        }
    }

    /// A string in single quotes: the error says strings use double quotes and,
    /// when the quote closes on the line, spells the string that way.
    private func singleQuoted(at start: Int) -> RuleSyntaxError {
        var end = start + 1
        while end < text.count, text[end] != "'", text[end] != "\n" { end += 1 }
        guard end < text.count, text[end] == "'" else {
            return error("strings use double quotes, not single quotes", at: start, expected: ["a string in double quotes"])
        }
        let suggestion = RulePrinter.string(string(start + 1..<end))
        return error("strings use double quotes: write \(suggestion)", at: start, expected: ["a string in double quotes"])
    }

    /// A number: `-?digits(.digits)?([eE][+-]?digits)?`.
    private mutating func number() throws(RuleSyntaxError) -> Double {
        let start = position
        if peek() == "-" { position += 1 }
        while Self.isDigit(peek()) { position += 1 }
        if peek() == ".", Self.isDigit(peek(1)) {
            position += 1
            while Self.isDigit(peek()) { position += 1 }
        }
        if let e = peek(), e == "e" || e == "E",
            Self.isDigit(peek(1)) || ((peek(1) == "+" || peek(1) == "-") && Self.isDigit(peek(2)))
        {
            position += 2
            while Self.isDigit(peek()) { position += 1 }
        }
        guard let value = Double(string(start..<position)), value.isFinite else {
            throw error("this number is out of range", at: start)
        }
        return value
    }

    /// Reads `count` digits as an integer.
    private mutating func digits(_ count: Int) -> Int? {
        var value = 0
        for _ in 0..<count {
            guard let digit = Self.digitValue(peek()) else { return nil }
            value = value * 10 + digit
            position += 1
        }
        return value
    }

    /// A time when the text at the position looks like `yyyy-mm-dd`; nil otherwise.
    private mutating func time() throws(RuleSyntaxError) -> Date? {
        guard (0..<4).allSatisfy({ Self.isDigit(peek($0)) }), peek(4) == "-", Self.isDigit(peek(5)) else { return nil }
        let start = position
        func bad(_ what: String) -> RuleSyntaxError {
            error("malformed time: \(what)", at: start, expected: ["yyyy-mm-dd", "yyyy-mm-ddThh:mm:ssZ"])
        }
        guard let year = digits(4), peek() == "-" else { throw bad("expected '-' after the year") }
        position += 1
        guard let month = digits(2), (1...12).contains(month), peek() == "-" else { throw bad("the month must be 01-12") }
        position += 1
        guard let day = digits(2), (1...CivilDate.daysIn(month: month, year: year)).contains(day) else {
            throw bad("no such day in that month")
        }
        var seconds = Double(CivilDate.daysFromEpoch(year: year, month: month, day: day)) * 86_400
        guard peek() == "T" else { return Date(timeIntervalSince1970: seconds) }
        position += 1
        guard let hour = digits(2), hour < 24, peek() == ":" else { throw bad("the hour must be 00-23, then ':'") }
        position += 1
        guard let minute = digits(2), minute < 60 else { throw bad("the minute must be 00-59") }
        seconds += Double(hour * 3600 + minute * 60)
        if peek() == ":" {
            position += 1
            guard let second = digits(2), second < 60 else { throw bad("the second must be 00-59") }
            seconds += Double(second)
            if peek() == ".", Self.isDigit(peek(1)) {
                position += 1
                var fraction = 0.0
                var scale = 0.1
                while let digit = Self.digitValue(peek()) {
                    fraction += Double(digit) * scale
                    scale /= 10
                    position += 1
                }
                seconds += fraction
            }
        }
        switch peek() {
        case "Z":
            position += 1
        case "+", "-":
            let sign: Double = peek() == "+" ? 1 : -1
            position += 1
            guard let hours = digits(2), hours <= 14, peek() == ":" else { throw bad("the offset must read ±hh:mm") }
            position += 1
            guard let minutes = digits(2), minutes < 60 else { throw bad("the offset must read ±hh:mm") }
            seconds -= sign * Double(hours * 3600 + minutes * 60)
        default:
            throw bad("a time of day needs a zone: 'Z' or ±hh:mm")
        }
        return Date(timeIntervalSince1970: seconds)
    }

    /// A literal between `delimiter`s with backslash escapes.
    private mutating func quoted(by delimiter: Unicode.Scalar, what: String) throws(RuleSyntaxError) -> String {
        let start = position
        position += 1
        var out = ""
        while true {
            guard let c = peek(), c != "\n" else {
                throw error("this \(what) is not closed", at: start, expected: ["\(delimiter)"])
            }
            position += 1
            if c == delimiter { return out }
            guard c == "\\" else {
                out.unicodeScalars.append(c)
                continue
            }
            guard let escaped = peek() else { throw error("this \(what) is not closed", at: start, expected: ["\(delimiter)"]) }
            position += 1
            switch escaped {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "\\", "\"", "`": out.unicodeScalars.append(escaped)
            case "u":
                guard peek() == "{" else { throw error("write unicode escapes as \\u{hex}", at: position - 2) }
                position += 1
                let hexStart = position
                while let h = peek(), Self.isHexDigit(h), position - hexStart < 8 { position += 1 }
                guard peek() == "}", let value = UInt32(string(hexStart..<position), radix: 16),
                    let scalar = Unicode.Scalar(value)
                else { throw error("write unicode escapes as \\u{hex} with a valid code point", at: hexStart - 3) }
                position += 1
                out.unicodeScalars.append(scalar)
            default:
                throw error(
                    "unknown escape '\\\(escaped.escaped(asASCII: false))'", at: position - 2, expected: ["\\n", "\\t", "\\\"", "\\\\", "\\u{…}"])
            }
        }
    }
}

/// Proleptic Gregorian calendar arithmetic in UTC, without Foundation's calendars.
enum CivilDate {
    static func isLeap(_ year: Int) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    static func daysFromEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// (year, month, day) of a day count since 1970-01-01 (civil_from_days).
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
