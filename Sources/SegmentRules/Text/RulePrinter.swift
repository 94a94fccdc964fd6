import Foundation

/// Prints a `Rule` as canonical text: one spelling per meaning, so
/// `parse(print(rule)) == rule` for every rule.
enum RulePrinter {
    static func print(_ rule: Rule) -> String {
        switch rule {
        case .all(let children): return group(children, keyword: "all", joiner: " and ")
        case .any(let children): return group(children, keyword: "any", joiner: " or ")
        case .not(let child):
            if child.hasPrefixNegation || child.isMultiGroup { return "not (\(print(child)))" }
            return "not " + print(child)
        case .behavior(let condition): return behavior(condition)
        case .attribute(let condition): return "profile.\(plainName(condition.attribute)) \(test(condition.test))"
        case .response(let condition):
            var text = (condition.negated ? "not " : "") + condition.kind.rawValue + " "
            switch condition.campaign {
            case .last: text += "last campaign"
            case .any: text += "any campaign"
            case .campaign(let id): text += "campaign " + (RuleKeywords.isPlainWord(id) ? id : string(id))
            }
            if let window = condition.window { text += " " + self.window(window) }
            return text
        case .tag(let condition): return (condition.negated ? "has no tag " : "has tag ") + plainName(condition.tag)
        case .location(let condition):
            var text: String
            switch condition.place {
            case .within(let latitude, let longitude, let meters):
                text = "within \(distance(meters)) of (\(number(latitude)), \(number(longitude)))"
            case .city(let city): text = "in city " + string(city)
            case .country(let country): text = "in country " + string(country)
            case .anywhere: text = "location"
            }
            if let seen = condition.seen { text += " seen " + window(seen) }
            return text
        case .segment(let condition): return (condition.negated ? "not in segment " : "in segment ") + plainName(condition.segment)
        }
    }

    private static func group(_ children: [Rule], keyword: String, joiner: String) -> String {
        guard children.count >= 2 else { return keyword + "(" + children.map(print).joined() + ")" }
        return children.map { $0.isMultiGroup ? "(\(print($0)))" : print($0) }.joined(separator: joiner)
    }

    private static func behavior(_ condition: BehaviorCondition) -> String {
        let event = keywordSafeName(condition.event)
        var scope = ""
        if let window = condition.window { scope += " " + self.window(window) }
        if !condition.filters.isEmpty {
            scope += " where " + condition.filters.map { keywordSafeName($0.property) + " " + test($0.test) }.joined(separator: " and ")
        }
        let not = condition.negated ? "not " : ""
        switch condition.measure {
        case .count(let comparison):
            let count = comparison == .greaterOrEqual(1) ? "" : " " + countPhrase(comparison)
            return "did \(not)\(event)\(count)\(scope)"
        case .aggregate(let function, let property, let comparison):
            return "\(not)\(function.rawValue)(\(plainName(condition.event)).\(plainName(property)))\(scope) \(numberComparison(comparison))"
        case .first(let when):
            return "\(not)first time did \(plainName(condition.event))\(scope) was \(window(when))"
        case .last(let when):
            return "\(not)last time did \(plainName(condition.event))\(scope) was \(window(when))"
        }
    }

    private static func countPhrase(_ comparison: Comparison) -> String {
        func times(_ n: Double) -> String { n == 1 ? "\(number(n)) time" : "\(number(n)) times" }
        switch comparison {
        case .equal(let n): return "exactly " + times(n)
        case .notEqual(let n): return "other than " + times(n)
        case .less(let n): return "fewer than " + times(n)
        case .lessOrEqual(let n): return "at most " + times(n)
        case .greater(let n): return "more than " + times(n)
        case .greaterOrEqual(let n): return "at least " + times(n)
        case .between(let low, let high): return "between \(number(low)) and \(number(high)) times"
        }
    }

    static func numberComparison(_ comparison: Comparison) -> String {
        switch comparison {
        case .equal(let n): return "= " + number(n)
        case .notEqual(let n): return "!= " + number(n)
        case .less(let n): return "< " + number(n)
        case .lessOrEqual(let n): return "<= " + number(n)
        case .greater(let n): return "> " + number(n)
        case .greaterOrEqual(let n): return ">= " + number(n)
        case .between(let low, let high): return "between \(number(low)) and \(number(high))"
        }
    }

    static func test(_ test: ValueTest) -> String {
        switch test {
        case .equals(let value): return "= " + literal(value)
        case .notEquals(let value): return "!= " + literal(value)
        case .isIn(let values): return "in " + list(values.map(literal))
        case .notIn(let values): return "not in " + list(values.map(literal))
        case .contains(let value): return "contains " + literal(value)
        case .startsWith(let text): return "starts with " + string(text)
        case .endsWith(let text): return "ends with " + string(text)
        case .exists: return "exists"
        case .notSet: return "is not set"
        case .less(let value): return "< " + literal(value)
        case .lessOrEqual(let value): return "<= " + literal(value)
        case .greater(let value): return "> " + literal(value)
        case .greaterOrEqual(let value): return ">= " + literal(value)
        case .between(let low, let high): return "between \(literal(low)) and \(literal(high))"
        case .containsAny(let values): return "contains any " + list(values.map(string))
        case .containsAll(let values): return "contains all " + list(values.map(string))
        case .moreThanAgo(let duration): return "more than \(self.duration(duration)) ago"
        case .lessThanAgo(let duration): return "less than \(self.duration(duration)) ago"
        }
    }

    static func window(_ window: TimeWindow) -> String {
        switch window {
        case .last(let duration): return "in last " + self.duration(duration)
        case .since(let date): return "since " + time(date)
        case .before(let date): return "before " + time(date)
        case .between(let start, let end): return "between \(time(start)) and \(time(end))"
        case .calendar(let period, let zone): return period.rawValue + (zone == .user ? " in user time zone" : "")
        }
    }

    // MARK: Atoms

    static func duration(_ duration: RelativeTime) -> String { "\(duration.amount)\(duration.unit.rawValue)" }

    static func distance(_ meters: Double) -> String {
        if meters >= 1000, meters.truncatingRemainder(dividingBy: 1000) == 0 { return number(meters / 1000) + "km" }
        return number(meters) + "m"
    }

    /// Integers without a fraction; other numbers in Swift's shortest round-trip form.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// `2026-01-31` at UTC midnight, else `2026-01-31T09:30:00Z` (with a fraction when there is one).
    static func time(_ date: Date) -> String {
        let total = date.timeIntervalSince1970
        let whole = total.rounded(.down)
        let days = Int((whole / 86_400).rounded(.down))
        let (year, month, day) = CivilDate.civil(fromDays: days)
        var text = String(format: "%04d-%02d-%02d", year, month, day)
        let secondOfDay = Int(whole) - days * 86_400
        let fraction = total - whole
        guard secondOfDay != 0 || fraction != 0 else { return text }
        text += String(format: "T%02d:%02d:%02d", secondOfDay / 3600, secondOfDay / 60 % 60, secondOfDay % 60)
        if fraction > 0 {
            var digits = String(format: "%.9f", fraction).dropFirst(1)  // ".123456789"
            while digits.last == "0" { digits = digits.dropLast() }
            if digits.count > 1 { text += digits }
        }
        return text + "Z"
    }

    static func literal(_ literal: Literal) -> String {
        switch literal {
        case .string(let text): return string(text)
        case .number(let value): return number(value)
        case .bool(let flag): return flag ? "true" : "false"
        case .time(let date): return time(date)
        }
    }

    static func list(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }

    static func string(_ text: String) -> String { quote(text, by: "\"") }

    /// A name where any word is read as a name: backticks only when it is not a plain word.
    static func plainName(_ name: String) -> String {
        RuleKeywords.isPlainWord(name) ? name : quote(name, by: "`")
    }

    /// A name where a keyword would be read as a keyword (events after `did`, filter properties).
    static func keywordSafeName(_ name: String) -> String {
        RuleKeywords.isPlainWord(name) && !RuleKeywords.isReserved(name) ? name : quote(name, by: "`")
    }

    private static func quote(_ text: String, by delimiter: Character) -> String {
        var out = String(delimiter)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where Character(scalar) == delimiter: out += "\\" + String(delimiter)
            case _
            where scalar.value < 0x20 || scalar.value == 0x7F || scalar.properties.generalCategory == .format
                || scalar.properties.generalCategory == .lineSeparator || scalar.properties.generalCategory == .paragraphSeparator:
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        out.append(delimiter)
        return out
    }
}

extension Rule {
    /// Leaves whose negated form is spelled with a leading `not`, so `not`
    /// around them needs parentheses.
    var hasPrefixNegation: Bool {
        switch self {
        case .behavior(let condition):
            if case .count = condition.measure { return false }
            return true
        case .response, .segment: return true
        default: return false
        }
    }

    /// A group printed with `and`/`or` (two or more children).
    var isMultiGroup: Bool {
        switch self {
        case .all(let children), .any(let children): return children.count >= 2
        default: return false
        }
    }
}

/// The rule text language: parse and print.
public enum RuleText {
    /// Parses rule text; errors point at line and column.
    public static func parse(_ text: String) throws(RuleSyntaxError) -> Rule {
        var parser = try RuleParser(text)
        return try parser.parseRule()
    }

    /// Canonical text of a rule.
    public static func print(_ rule: Rule) -> String { RulePrinter.print(rule) }
}
