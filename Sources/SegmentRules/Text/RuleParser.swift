import Foundation

/// Parses the rule text language into a `Rule` (the grammar is in docs/rules.md).
///
/// Recursive descent over tokens. Every error names the line, the column, what
/// was found and what would have fit. Nesting is limited so no input can
/// exhaust the stack.
struct RuleParser {
    /// Deepest nesting of groups and `not`s the parser follows.
    static let maxNesting = 64
    /// Longest rule text accepted, in characters.
    static let maxLength = 100_000

    private let text: [Unicode.Scalar]
    private let tokens: [RuleToken]
    private var index = 0
    private var nesting = 0

    init(_ source: String) throws(RuleSyntaxError) {
        text = Array(source.unicodeScalars)
        guard text.count <= Self.maxLength else {
            throw RuleSyntaxError(in: text, at: Self.maxLength, message: "the rule is longer than \(Self.maxLength) characters")
        }
        tokens = try RuleLexer.tokens(text)
    }

    mutating func parseRule() throws(RuleSyntaxError) -> Rule {
        let rule = try orExpression()
        guard current.kind == .end else {
            throw unexpected(["'and'", "'or'", "the end of the rule"])
        }
        return rule
    }

    // MARK: Tokens

    private var current: RuleToken { tokens[index] }

    /// The word `ahead` tokens on, as a keyword reads: `AND`, `Or` and `NOT`
    /// come back in lower case (names are read from the token, not from here).
    private func word(_ ahead: Int = 0) -> String? {
        guard index + ahead < tokens.count, case .word(let word) = tokens[index + ahead].kind else { return nil }
        return RuleKeywords.normalized(word)
    }

    private func isSymbol(_ symbol: String, _ ahead: Int = 0) -> Bool {
        index + ahead < tokens.count && tokens[index + ahead].kind == .symbol(symbol)
    }

    private mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    private mutating func accept(_ expected: String) -> Bool {
        guard word() == expected else { return false }
        advance()
        return true
    }

    private mutating func acceptSymbol(_ symbol: String) -> Bool {
        guard isSymbol(symbol) else { return false }
        advance()
        return true
    }

    private mutating func expect(_ expected: String) throws(RuleSyntaxError) {
        guard accept(expected) else { throw unexpected(["'\(expected)'"]) }
    }

    private mutating func expectSymbol(_ symbol: String) throws(RuleSyntaxError) {
        guard acceptSymbol(symbol) else { throw unexpected(["'\(symbol)'"]) }
    }

    private func unexpected(_ expected: [String], at token: RuleToken? = nil) -> RuleSyntaxError {
        let token = token ?? current
        guard token.kind == .end else {
            return RuleSyntaxError(in: text, at: token.offset, message: "unexpected \(token.display)", expected: expected)
        }
        // Running out of text reads as where the rule stopped: "the rule ends after 'did'".
        return RuleSyntaxError(in: text, at: token.offset, message: endMessage(before: token), expected: expected)
    }

    /// "the rule ends after 'tag'" (the last token as written, cut when long), or "the rule is empty".
    private func endMessage(before end: RuleToken) -> String {
        guard let last = tokens.last(where: { $0.offset < end.offset && $0.kind != .end }) else { return "the rule is empty" }
        var written = ""
        written.unicodeScalars.append(contentsOf: text[last.offset..<min(last.offset + last.length, text.count)])
        if written.unicodeScalars.count > 30 { written = String(String.UnicodeScalarView(written.unicodeScalars.prefix(29))) + "…" }
        return "the rule ends after '\(written)'"
    }

    private func invalid(_ message: String, at token: RuleToken) -> RuleSyntaxError {
        RuleSyntaxError(in: text, at: token.offset, message: message)
    }

    // MARK: Boolean structure

    private mutating func nested<T>(_ body: (inout RuleParser) throws(RuleSyntaxError) -> T) throws(RuleSyntaxError) -> T {
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= Self.maxNesting else {
            throw invalid("the rule is nested more than \(Self.maxNesting) levels deep", at: current)
        }
        return try body(&self)
    }

    private mutating func orExpression() throws(RuleSyntaxError) -> Rule {
        var operands = [try andExpression()]
        while accept("or") { operands.append(try andExpression()) }
        return operands.count == 1 ? operands[0] : .any(operands)
    }

    private mutating func andExpression() throws(RuleSyntaxError) -> Rule {
        var operands = [try unary()]
        while accept("and") { operands.append(try unary()) }
        return operands.count == 1 ? operands[0] : .all(operands)
    }

    private mutating func unary() throws(RuleSyntaxError) -> Rule {
        try nested { (parser: inout RuleParser) throws(RuleSyntaxError) -> Rule in
            guard parser.word() == "not" else { return try parser.primary() }
            parser.advance()
            // `not` before a leaf that has its own negated form gives that form.
            if let word = parser.word() {
                if ["sum", "avg", "min", "max"].contains(word), parser.isSymbol("(", 1) { return try parser.aggregate(negated: true) }
                if word == "first" || word == "last", parser.word(1) == "time" { return try parser.occurrence(negated: true) }
                if word == "in", parser.word(1) == "segment" { return try parser.segmentCondition(negated: true) }
                if ResponseKind(verb: word) != nil { return try parser.response(negated: true) }
            }
            return .not(try parser.unary())
        }
    }

    private mutating func primary() throws(RuleSyntaxError) -> Rule {
        if acceptSymbol("(") {
            let rule = try orExpression()
            try expectSymbol(")")
            return rule
        }
        guard let word = word() else { throw unexpected(Self.ruleStarts) }
        switch word {
        case "all" where isSymbol("(", 1), "any" where isSymbol("(", 1):
            advance()
            advance()
            var children: [Rule] = []
            if !acceptSymbol(")") {
                repeat { children.append(try orExpression()) } while acceptSymbol(",")
                try expectSymbol(")")
            }
            return word == "all" ? .all(children) : .any(children)
        case "did": return try behavior()
        case "sum", "avg", "min",
            "max" where isSymbol("(", 1):
            return try aggregate(negated: false)
        case "first",
            "last" where self.word(1) == "time":
            return try occurrence(negated: false)
        case "profile": return try attribute()
        case "has": return try tagCondition()
        case "in":
            switch self.word(1) {
            case "segment": return try segmentCondition(negated: false)
            case "city", "country": return try location()
            default:
                advance()
                throw unexpected(["'segment'", "'city'", "'country'"])
            }
        case "within", "location": return try location()
        default:
            if ResponseKind(verb: word) != nil { return try response(negated: false) }
            throw unexpected(Self.ruleStarts)
        }
    }

    static let ruleStarts = [
        "'did'", "'profile.'", "'has tag'", "'in segment'", "'within'", "'in city'", "'in country'", "'location'",
        "'clicked'/'opened'/'received'/'converted'", "'sum('/'avg('/'min('/'max('", "'first time'/'last time'", "'not'", "'('",
    ]

    // MARK: Names and literals

    /// A name at a position where any word is a name.
    private mutating func name(_ what: String) throws(RuleSyntaxError) -> String {
        switch current.kind {
        case .word(let word):
            advance()
            return word
        case .quotedName(let name):
            advance()
            return name
        default:
            throw unexpected(["\(what) name"])
        }
    }

    private mutating func number(_ what: String = "a number") throws(RuleSyntaxError) -> Double {
        guard case .number(let value) = current.kind else { throw unexpected([what]) }
        advance()
        return value
    }

    private mutating func timeLiteral() throws(RuleSyntaxError) -> Date {
        guard case .time(let date) = current.kind else { throw unexpected(["a time (2026-01-31 or 2026-01-31T09:00:00Z)"]) }
        advance()
        return date
    }

    private mutating func string(_ what: String = "a string in double quotes") throws(RuleSyntaxError) -> String {
        guard case .string(let value) = current.kind else { throw unexpected([what]) }
        advance()
        return value
    }

    private mutating func literal() throws(RuleSyntaxError) -> Literal {
        switch current.kind {
        case .string(let value):
            advance()
            return .string(value)
        case .number(let value):
            advance()
            return .number(value)
        case .time(let value):
            advance()
            return .time(value)
        case .word("true"):
            advance()
            return .bool(true)
        case .word("false"):
            advance()
            return .bool(false)
        default: throw unexpected(["a string", "a number", "true", "false", "a time"])
        }
    }

    private mutating func literalList() throws(RuleSyntaxError) -> [Literal] {
        try expectSymbol("[")
        var values: [Literal] = []
        if !acceptSymbol("]") {
            repeat { values.append(try literal()) } while acceptSymbol(",")
            try expectSymbol("]")
        }
        return values
    }

    private mutating func stringList() throws(RuleSyntaxError) -> [String] {
        try expectSymbol("[")
        var values: [String] = []
        if !acceptSymbol("]") {
            repeat { values.append(try string()) } while acceptSymbol(",")
            try expectSymbol("]")
        }
        return values
    }

    /// `24h`, `7d`, `30m`, `2w`, or `24 hours`.
    private mutating func duration() throws(RuleSyntaxError) -> RelativeTime {
        let token = current
        let amount: Double
        let unitName: String
        switch token.kind {
        case .measure(let value, let unit):
            amount = value
            unitName = unit
            advance()
        case .number(let value):
            guard let unit = word(1) else { throw unexpected(["a duration such as 24h, 7d or 30m"]) }
            amount = value
            unitName = unit
            advance()
            advance()
        default:
            throw unexpected(["a duration such as 24h, 7d or 30m"])
        }
        guard let unit = TimeUnit(name: unitName) else {
            throw invalid("unknown time unit '\(unitName)': use m, h, d or w", at: token)
        }
        guard amount >= 0, amount == amount.rounded(), amount < 1e12 else {
            throw invalid("a duration is a whole number of \(unit.words)", at: token)
        }
        return RelativeTime(Int64(amount), unit)
    }

    // MARK: Windows

    /// Whether the current token starts a time window.
    private var atWindow: Bool {
        switch word() {
        case "in": return word(1) == "last"
        case "between":
            if case .time = tokens[index + 1].kind { return true }
            return false
        case "since", "before", "today", "yesterday": return true
        case "this", "last": return word(1) == "week" || word(1) == "month"
        default: return false
        }
    }

    /// A window when one starts here; nil otherwise.
    private mutating func optionalWindow() throws(RuleSyntaxError) -> TimeWindow? {
        if atWindow { return try window() }
        try rejectWindowMisspelling()
        return nil
    }

    /// `in the last 7 days`, `in the past 7 days`, `in past 7 days`: an error
    /// that points at the odd word and spells the window as it reads,
    /// `in last 7d`. (The text form keeps one spelling so rules diff cleanly.)
    private func rejectWindowMisspelling() throws(RuleSyntaxError) {
        guard word() == "in" else { return }
        let odd: Int
        let durationAt: Int
        switch (word(1), word(2)) {
        case ("the", "last"), ("the", "past"):
            odd = 1
            durationAt = 3
        case ("past", _):
            odd = 1
            durationAt = 2
        default:
            return
        }
        let written = word(1) == "the" ? "without 'the'" : "not 'in past'"
        let message: String
        switch word(durationAt) {
        case "week":
            message = "windows read 'in last 1w' (the past 7 days) or 'last week' (the calendar week), \(written)"
        case "month":
            message = "windows read 'in last 30d' (the past 30 days) or 'last month' (the calendar month), \(written)"
        default:
            if let duration = durationSpelling(at: index + durationAt) {
                message = "windows read 'in last \(duration)', \(written)"
            } else {
                message = "windows read 'in last' and a duration such as 7d, 24h or 30m, \(written)"
            }
        }
        throw RuleSyntaxError(in: text, at: tokens[index + odd].offset, message: message, expected: ["'in last'"])
    }

    /// The canonical spelling of the duration written at `position` (`7 days`
    /// → `7d`, `day` → `1d`), or nil when none is there.
    private func durationSpelling(at position: Int) -> String? {
        guard position < tokens.count else { return nil }
        let amount: Double
        let unitName: String
        switch tokens[position].kind {
        case .measure(let value, let unit):
            amount = value
            unitName = unit
        case .number(let value):
            guard position + 1 < tokens.count, case .word(let unit) = tokens[position + 1].kind else { return nil }
            amount = value
            unitName = unit
        case .word(let unit):
            amount = 1
            unitName = unit
        default:
            return nil
        }
        guard let unit = TimeUnit(name: unitName), amount >= 0, amount == amount.rounded(), amount < 1e12 else { return nil }
        return RulePrinter.duration(RelativeTime(Int64(amount), unit))
    }

    /// A window after `where` filters: the error says windows come before the
    /// filters, with the condition rewritten when `rewrite` can print it.
    private mutating func rejectWindowAfterFilters(
        _ filters: [PropertyFilter], rewrite: (TimeWindow) -> String? = { _ in nil }
    ) throws(RuleSyntaxError) {
        guard !filters.isEmpty else { return }
        try rejectWindowMisspelling()
        guard atWindow else { return }
        let token = current
        var message = "the window goes before the 'where' filters"
        if let moved = try? window(), let rewritten = rewrite(moved) { message += ", as in '\(rewritten)'" }
        throw invalid(message, at: token)
    }

    private mutating func window() throws(RuleSyntaxError) -> TimeWindow {
        try rejectWindowMisspelling()
        switch word() {
        case "in":
            advance()
            try expect("last")
            return .last(try duration())
        case "since":
            advance()
            return .since(try timeLiteral())
        case "before":
            advance()
            return .before(try timeLiteral())
        case "between":
            advance()
            let start = try timeLiteral()
            try expect("and")
            return .between(start, try timeLiteral())
        case "today", "yesterday", "this", "last":
            let period: CalendarPeriod
            switch (word(), word(1)) {
            case ("today", _):
                period = .today
                advance()
            case ("yesterday", _):
                period = .yesterday
                advance()
            case ("this", "week"):
                period = .thisWeek
                advance()
                advance()
            case ("this", "month"):
                period = .thisMonth
                advance()
                advance()
            case ("last", "week"):
                period = .lastWeek
                advance()
                advance()
            case ("last", "month"):
                period = .lastMonth
                advance()
                advance()
            default:
                advance()
                throw unexpected(["'week'", "'month'"])
            }
            var zone = TimeZoneSource.tenant
            if word() == "in", word(1) == "user" {
                advance()
                advance()
                try expect("time")
                try expect("zone")
                zone = .user
            }
            return .calendar(period, zone)
        default:
            throw unexpected(Self.windowStarts)
        }
    }

    static let windowStarts = [
        "'in last'", "'since'", "'before'", "'between'", "'today'", "'yesterday'", "'this week'", "'this month'",
        "'last week'", "'last month'",
    ]

    // MARK: Behavior

    /// `did [not] EVENT [count] [window] [where filters]`
    private mutating func behavior() throws(RuleSyntaxError) -> Rule {
        try expect("did")
        let negated = accept("not")
        let event = try name("an event")
        var measure = BehaviorMeasure.count(.greaterOrEqual(1))
        if let comparison = try countPhrase() { measure = .count(comparison) }
        let window = try optionalWindow()
        let filters = try whereClause()
        try rejectWindowAfterFilters(filters) { moved in
            // With a window already before `where`, moving the second one would not be the rule meant.
            window != nil
                ? nil
                : RulePrinter.print(.behavior(BehaviorCondition(event: event, negated: negated, window: moved, filters: filters, measure: measure)))
        }
        return .behavior(BehaviorCondition(event: event, negated: negated, window: window, filters: filters, measure: measure))
    }

    /// `at least 3 times`, `between 2 and 5 times`…; nil when none follows.
    private mutating func countPhrase() throws(RuleSyntaxError) -> Comparison? {
        let make: (Double) -> Comparison
        switch (word(), word(1)) {
        case ("at", "least"): make = Comparison.greaterOrEqual
        case ("at", "most"): make = Comparison.lessOrEqual
        case ("more", "than"): make = Comparison.greater
        case ("fewer", "than"): make = Comparison.less
        case ("other", "than"): make = Comparison.notEqual
        case ("exactly", _):
            advance()
            let count = try number("a count")
            try times()
            return .equal(count)
        case ("between", _):
            guard case .number = tokens[index + 1].kind else { return nil }  // A window `between <time> and <time>`.
            advance()
            let low = try number("a count")
            try expect("and")
            let high = try number("a count")
            try times()
            return .between(low, high)
        default:
            return nil
        }
        advance()
        advance()
        let count = try number("a count")
        try times()
        return make(count)
    }

    private mutating func times() throws(RuleSyntaxError) {
        guard accept("times") || accept("time") else { throw unexpected(["'times'"]) }
    }

    /// `where NAME TEST (and NAME TEST)*`; a filter after `and` starts with a
    /// name that is not a keyword, so `and did …` continues the rule instead.
    private mutating func whereClause() throws(RuleSyntaxError) -> [PropertyFilter] {
        guard accept("where") else { return [] }
        var filters = [try filter()]
        while word() == "and" {
            switch tokens[index + 1].kind {
            case .quotedName: break
            case .word(let next) where !RuleKeywords.isReserved(next): break
            default: return filters
            }
            advance()
            filters.append(try filter())
        }
        return filters
    }

    private mutating func filter() throws(RuleSyntaxError) -> PropertyFilter {
        let property = try name("a property")
        return PropertyFilter(property: property, test: try valueTest())
    }

    // MARK: Aggregates and first/last

    /// `sum(EVENT.PROPERTY) [window] [where filters] COMPARISON`
    private mutating func aggregate(negated: Bool) throws(RuleSyntaxError) -> Rule {
        guard let word = word(), let function = AggregateFunction(rawValue: word) else { throw unexpected(["'sum'", "'avg'", "'min'", "'max'"]) }
        advance()
        try expectSymbol("(")
        let event = try name("an event")
        try expectSymbol(".")
        let property = try name("a property")
        try expectSymbol(")")
        let window = try optionalWindow()
        let filters = try whereClause()
        try rejectWindowAfterFilters(filters)
        let comparison = try numberComparison()
        return .behavior(
            BehaviorCondition(
                event: event, negated: negated, window: window, filters: filters, measure: .aggregate(function, property: property, comparison)))
    }

    /// `= 5`, `!= 5`, `< 5`, `<= 5`, `> 5`, `>= 5`, `between 1 and 5`.
    private mutating func numberComparison() throws(RuleSyntaxError) -> Comparison {
        if accept("between") {
            let low = try number()
            try expect("and")
            return .between(low, try number())
        }
        guard case .symbol(let symbol) = current.kind, ["=", "!=", "<", "<=", ">", ">="].contains(symbol) else {
            throw unexpected(["'='", "'!='", "'<'", "'<='", "'>'", "'>='", "'between'"])
        }
        advance()
        let value = try number()
        switch symbol {
        case "=": return .equal(value)
        case "!=": return .notEqual(value)
        case "<": return .less(value)
        case "<=": return .lessOrEqual(value)
        case ">": return .greater(value)
        default: return .greaterOrEqual(value)
        }
    }

    /// `first time did EVENT [window] [where filters] was WINDOW`
    private mutating func occurrence(negated: Bool) throws(RuleSyntaxError) -> Rule {
        let first = word() == "first"
        advance()
        try expect("time")
        try expect("did")
        let event = try name("an event")
        let window = try optionalWindow()
        let filters = try whereClause()
        try rejectWindowAfterFilters(filters)
        try expect("was")
        let when = try self.window()
        return .behavior(
            BehaviorCondition(
                event: event, negated: negated, window: window, filters: filters, measure: first ? .first(when) : .last(when)))
    }

    // MARK: Profile

    /// `profile.NAME TEST`
    private mutating func attribute() throws(RuleSyntaxError) -> Rule {
        try expect("profile")
        try expectSymbol(".")
        let attribute = try name("an attribute")
        return .attribute(AttributeCondition(attribute: attribute, test: try valueTest()))
    }

    private mutating func valueTest() throws(RuleSyntaxError) -> ValueTest {
        if case .symbol(let symbol) = current.kind {
            switch symbol {
            case "=":
                advance()
                return .equals(try literal())
            case "!=":
                advance()
                return .notEquals(try literal())
            case "<":
                advance()
                return .less(try literal())
            case "<=":
                advance()
                return .lessOrEqual(try literal())
            case ">":
                advance()
                return .greater(try literal())
            case ">=":
                advance()
                return .greaterOrEqual(try literal())
            default: break
            }
        }
        switch (word(), word(1)) {
        case ("in", _):
            advance()
            return .isIn(try literalList())
        case ("not", "in"):
            advance()
            advance()
            return .notIn(try literalList())
        case ("contains", "any"):
            advance()
            advance()
            return .containsAny(try stringList())
        case ("contains", "all"):
            advance()
            advance()
            return .containsAll(try stringList())
        case ("contains", _):
            advance()
            return .contains(try literal())
        case ("starts", "with"):
            advance()
            advance()
            return .startsWith(try string())
        case ("ends", "with"):
            advance()
            advance()
            return .endsWith(try string())
        case ("exists", _):
            advance()
            return .exists
        case ("is", "not"):
            advance()
            advance()
            try expect("set")
            return .notSet
        case ("between", _):
            advance()
            let low = try literal()
            try expect("and")
            return .between(low, try literal())
        case ("more", "than"), ("less", "than"):
            let more = word() == "more"
            advance()
            advance()
            let duration = try duration()
            try expect("ago")
            return more ? .moreThanAgo(duration) : .lessThanAgo(duration)
        default:
            throw unexpected([
                "'='", "'!='", "'<'", "'<='", "'>'", "'>='", "'in'", "'not in'", "'contains'", "'contains any'",
                "'contains all'", "'starts with'", "'ends with'", "'exists'", "'is not set'", "'between'",
                "'more than … ago'", "'less than … ago'",
            ])
        }
    }

    // MARK: Responses, tags, location, segments

    /// `clicked last campaign`, `opened campaign spring_sale in last 7d`, `received any campaign`.
    private mutating func response(negated: Bool) throws(RuleSyntaxError) -> Rule {
        guard let verb = word(), let kind = ResponseKind(verb: verb) else {
            throw unexpected(["'received'", "'opened'", "'clicked'", "'converted'"])
        }
        advance()
        let campaign: CampaignSelector
        switch word() {
        case "last":
            advance()
            try expect("campaign")
            campaign = .last
        case "any":
            advance()
            try expect("campaign")
            campaign = .any
        case "campaign":
            advance()
            switch current.kind {
            case .word(let id), .string(let id), .quotedName(let id):
                advance()
                campaign = .campaign(id)
            default:
                throw unexpected(["a campaign id"])
            }
        default:
            throw unexpected(["'last campaign'", "'any campaign'", "'campaign ID'"])
        }
        let window = try optionalWindow()
        return .response(ResponseCondition(kind: kind, negated: negated, campaign: campaign, window: window))
    }

    /// `has tag vip`, `has no tag vip`.
    private mutating func tagCondition() throws(RuleSyntaxError) -> Rule {
        try expect("has")
        let negated = accept("no")
        try expect("tag")
        return .tag(TagCondition(tag: try name("a tag"), negated: negated))
    }

    /// `in segment NAME`, `not in segment NAME`.
    private mutating func segmentCondition(negated: Bool) throws(RuleSyntaxError) -> Rule {
        try expect("in")
        try expect("segment")
        return .segment(SegmentCondition(segment: try name("a segment"), negated: negated))
    }

    /// `within 10km of (41.01, 28.97)`, `in city "Istanbul"`, `in country "TR"`, `location`; then `seen WINDOW`.
    private mutating func location() throws(RuleSyntaxError) -> Rule {
        let place: Place
        switch word() {
        case "within":
            advance()
            let token = current
            guard case .measure(let amount, let unit) = token.kind else { throw unexpected(["a distance such as 10km or 500m"]) }
            advance()
            let meters: Double
            switch unit {
            case "km": meters = amount * 1000
            case "m": meters = amount
            default: throw invalid("unknown distance unit '\(unit)': use km or m", at: token)
            }
            try expect("of")
            try expectSymbol("(")
            let latitude = try number("a latitude")
            try expectSymbol(",")
            let longitude = try number("a longitude")
            try expectSymbol(")")
            place = .within(latitude: latitude, longitude: longitude, meters: meters)
        case "in":
            advance()
            if accept("city") {
                place = .city(try string("a city in double quotes"))
            } else {
                try expect("country")
                place = .country(try string("a country code in double quotes"))
            }
        default:
            try expect("location")
            place = .anywhere
        }
        return try seen(place)
    }

    private mutating func seen(_ place: Place) throws(RuleSyntaxError) -> Rule {
        let window = accept("seen") ? try self.window() : nil
        return .location(LocationCondition(place: place, seen: window))
    }
}

extension ResponseKind {
    /// The verb of the text form: `clicked`.
    init?(verb: String) {
        self.init(rawValue: verb)
    }
}

extension TimeUnit {
    init?(name: String) {
        switch name {
        case "m", "min", "minute", "minutes": self = .minutes
        case "h", "hour", "hours": self = .hours
        case "d", "day", "days": self = .days
        case "w", "week", "weeks": self = .weeks
        default: return nil
        }
    }

    var words: String {
        switch self {
        case .minutes: return "minutes"
        case .hours: return "hours"
        case .days: return "days"
        case .weeks: return "weeks"
        }
    }
}
