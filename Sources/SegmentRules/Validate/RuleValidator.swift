import Foundation

/// Checks a rule against the limits and the tenant's catalog.
///
/// Errors: limits, malformed names and values, and a test that cannot apply to
/// the catalog's type of an attribute or property (comparing a string with a
/// number), and a reference to a segment that does not exist. Warnings: names
/// the catalog has never seen (data may come later), each with the closest known
/// name when it looks like a typo, and conditions that can never hold.
public struct RuleValidator {
    public let catalog: RuleCatalog
    public let limits: RuleLimits
    private var diagnostics: [RuleDiagnostic] = []

    public init(catalog: RuleCatalog, limits: RuleLimits = RuleLimits()) {
        self.catalog = catalog
        self.limits = limits
    }

    public static func validate(_ rule: Rule, catalog: RuleCatalog, limits: RuleLimits = RuleLimits()) -> [RuleDiagnostic] {
        var validator = RuleValidator(catalog: catalog, limits: limits)
        if rule.depth > limits.maxDepth {
            return [RuleDiagnostic(.error, "the rule is nested \(rule.depth) levels deep; the limit is \(limits.maxDepth)")]
        }
        if rule.nodeCount > limits.maxNodes {
            return [RuleDiagnostic(.error, "the rule has \(rule.nodeCount) conditions and groups; the limit is \(limits.maxNodes)")]
        }
        validator.check(rule, path: "")
        return validator.diagnostics
    }

    private mutating func error(_ path: String, _ message: String, kind: RuleDiagnostic.Kind = .invalid) {
        diagnostics.append(RuleDiagnostic(.error, message, path: path, kind: kind))
    }
    private mutating func warning(_ path: String, _ message: String) { diagnostics.append(RuleDiagnostic(.warning, message, path: path)) }

    /// A name the catalog does not know, with the closest known one when it looks like a typo.
    private mutating func unknownName(
        _ severity: RuleDiagnostic.Severity, _ path: String, _ message: String, name: String, known: some Sequence<String>
    ) {
        let suggestion = NameSuggestion.closest(to: name, among: known)
        let text = suggestion.map { "\(message); did you mean \($0)?" } ?? message
        diagnostics.append(RuleDiagnostic(severity, text, path: path, suggestion: suggestion))
    }

    private static func join(_ path: String, _ next: String) -> String { path.isEmpty ? next : path + "." + next }

    /// Names of events, properties, attributes and tags, as ingestion accepts them.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), let first = bytes.first, (97...122).contains(first) else { return false }
        return bytes.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 95 }
    }

    private mutating func name(_ name: String, _ kind: String, _ path: String) -> Bool {
        guard Self.isValidName(name) else {
            error(path, "\(RulePrinter.string(name)) is not a valid \(kind) name: 1-64 characters of a-z, 0-9 and _, starting with a letter")
            return false
        }
        return true
    }

    private mutating func check(_ rule: Rule, path: String) {
        switch rule {
        case .all(let children), .any(let children):
            let kind = if case .all = rule { "all" } else { "any" }
            for (index, child) in children.enumerated() { check(child, path: Self.join(path, "\(kind)[\(index)]")) }
        case .not(let child): check(child, path: Self.join(path, "not"))
        case .behavior(let condition): behavior(condition, path: Self.join(path, "behavior"))
        case .attribute(let condition):
            let here = Self.join(path, "attribute")
            guard name(condition.attribute, "attribute", here) else { return }
            let type = catalog.attributes[condition.attribute]
            if type == nil {
                unknownName(
                    .warning, here, "no profile has the attribute \(condition.attribute) yet", name: condition.attribute,
                    known: catalog.attributes.keys)
            }
            test(condition.test, type: type, subject: "profile.\(condition.attribute)", path: here)
        case .response(let condition):
            let here = Self.join(path, "response")
            if case .campaign(let id) = condition.campaign {
                if id.isEmpty || id.count > 128 {
                    error(here, "a campaign id is 1-128 characters")
                } else if !catalog.campaigns.contains(id) {
                    unknownName(
                        .warning, here, "no response to campaign \(RulePrinter.string(id)) has been recorded yet", name: id,
                        known: catalog.campaigns)
                }
            }
            if let window = condition.window { self.window(window, path: Self.join(here, "window")) }
        case .tag(let condition):
            let here = Self.join(path, "tag")
            if name(condition.tag, "tag", here), !catalog.tags.contains(condition.tag) {
                unknownName(.warning, here, "there is no tag \(condition.tag) yet", name: condition.tag, known: catalog.tags)
            }
        case .location(let condition): location(condition, path: Self.join(path, "location"))
        case .segment(let condition):
            let here = Self.join(path, "segment")
            guard name(condition.segment, "segment", here) else { return }
            // Saving refuses a reference to a missing segment, so checking must say so too.
            guard let segments = catalog.segments else { return }
            if !segments.contains(condition.segment) {
                unknownName(.error, here, "segment \(condition.segment) does not exist (or is deleted)", name: condition.segment, known: segments)
            } else if !catalog.segmentsWithMembers.contains(condition.segment) {
                warning(here, "segment \(condition.segment) has no members yet")
            }
        }
    }

    private mutating func behavior(_ condition: BehaviorCondition, path: String) {
        guard name(condition.event, "event", path) else { return }
        let known = catalog.events.contains(condition.event)
        if !known {
            unknownName(.warning, path, "no \(condition.event) event has been received yet", name: condition.event, known: catalog.events)
        }
        if let window = condition.window { self.window(window, path: Self.join(path, "window")) }
        let types = catalog.properties[condition.event] ?? [:]
        for (index, filter) in condition.filters.enumerated() {
            let here = Self.join(path, "where[\(index)]")
            guard name(filter.property, "property", here) else { continue }
            let type = types[filter.property]
            if type == nil, known {
                unknownName(
                    .warning, here, "\(condition.event) events have never had the property \(filter.property)", name: filter.property,
                    known: types.keys)
            }
            test(filter.test, type: type, subject: "\(condition.event).\(filter.property)", path: here)
        }
        switch condition.measure {
        case .count(let comparison):
            self.comparison(comparison, path: Self.join(path, "count"))
            if case .between(let low, let high) = comparison, low > high {
                warning(Self.join(path, "count"), "between \(RulePrinter.number(low)) and \(RulePrinter.number(high)) is empty")
            }
        case .aggregate(_, let property, let comparison):
            let here = Self.join(path, "aggregate")
            guard name(property, "property", here) else { return }
            self.comparison(comparison, path: here)
            switch types[property] {
            case .number?: break
            case let other?:
                error(
                    here, "\(condition.event).\(property) is a \(Self.describe(other)), not a number: it cannot be summed or averaged",
                    kind: .typeMismatch)
            case nil:
                if known {
                    unknownName(
                        .warning, here, "\(condition.event) events have never had the property \(property)", name: property, known: types.keys)
                }
            }
        case .first(let window), .last(let window):
            self.window(window, path: Self.join(path, "occurrence.window"))
        }
    }

    private mutating func comparison(_ comparison: Comparison, path: String) {
        let values: [Double]
        switch comparison {
        case .equal(let v), .notEqual(let v), .less(let v), .lessOrEqual(let v), .greater(let v), .greaterOrEqual(let v): values = [v]
        case .between(let low, let high): values = [low, high]
        }
        if values.contains(where: { !$0.isFinite }) { error(path, "numbers must be finite") }
    }

    private mutating func window(_ window: TimeWindow, path: String) {
        switch window {
        case .last(let duration): self.duration(duration, path: path)
        case .between(let start, let end):
            if start >= end { error(path, "the window's start \(RulePrinter.time(start)) is not before its end \(RulePrinter.time(end))") }
        case .since, .before, .calendar: break
        }
    }

    private mutating func duration(_ duration: RelativeTime, path: String) {
        if duration.amount <= 0 {
            error(path, "a duration must be positive")
        } else if duration.amount > limits.maxDurationSeconds / duration.unit.seconds {
            error(path, "a duration may be at most ten years")
        }
    }

    private mutating func location(_ condition: LocationCondition, path: String) {
        switch condition.place {
        case .within(let latitude, let longitude, let meters):
            if !(latitude.isFinite && (-90...90).contains(latitude)) { error(path, "the latitude must be between -90 and 90") }
            if !(longitude.isFinite && (-180...180).contains(longitude)) { error(path, "the longitude must be between -180 and 180") }
            if !(meters.isFinite && meters > 0 && meters <= 20_000_000) { error(path, "the radius must be more than 0 m and at most 20,000 km") }
        case .city(let city):
            if city.isEmpty || city.count > limits.maxStringLength { error(path, "a city name is 1-\(limits.maxStringLength) characters") }
        case .country(let country):
            if country.count != 2 || !country.allSatisfy({ $0.isASCII && $0.isLetter }) {
                warning(path, "\(RulePrinter.string(country)) is not an ISO 3166-1 alpha-2 country code such as \"TR\"")
            }
        case .anywhere: break
        }
        if let seen = condition.seen { window(seen, path: Self.join(path, "seen")) }
    }

    static func describe(_ type: ValueType) -> String {
        switch type {
        case .string: return "string"
        case .number: return "number"
        case .bool: return "bool"
        case .timestamp: return "timestamp"
        case .stringList: return "string list"
        }
    }

    private static func type(of literal: Literal) -> ValueType {
        switch literal {
        case .string: return .string
        case .number: return .number
        case .bool: return .bool
        case .time: return .timestamp
        }
    }

    /// Checks literal sizes and, when the type is known, that the test applies to it.
    private mutating func test(_ test: ValueTest, type: ValueType?, subject: String, path: String) {
        var literals: [Literal] = []
        switch test {
        case .equals(let l), .notEquals(let l), .contains(let l), .less(let l), .lessOrEqual(let l), .greater(let l), .greaterOrEqual(let l):
            literals = [l]
        case .isIn(let ls), .notIn(let ls): literals = ls
        case .between(let low, let high): literals = [low, high]
        case .startsWith(let s), .endsWith(let s): literals = [.string(s)]
        case .containsAny(let ss), .containsAll(let ss): literals = ss.map(Literal.string)
        case .moreThanAgo(let d), .lessThanAgo(let d): duration(d, path: path)
        case .exists, .notSet: break
        }
        if literals.count > limits.maxListItems { error(path, "a list may hold at most \(limits.maxListItems) values") }
        for literal in literals {
            switch literal {
            case .string(let s) where s.count > limits.maxStringLength: error(path, "a string may be at most \(limits.maxStringLength) characters")
            case .number(let n) where !n.isFinite: error(path, "numbers must be finite")
            default: break
            }
        }
        guard let type else { return }
        let name = Self.describe(type)
        func mismatch(_ advice: String) { error(path, "\(subject) is a \(name); \(advice)", kind: .typeMismatch) }
        switch test {
        case .exists, .notSet: break
        case .equals, .notEquals, .isIn, .notIn:
            if type == .stringList { return mismatch("use contains, contains any or contains all") }
            if let other = literals.first(where: { Self.type(of: $0) != type }) {
                mismatch("compare it with a \(name), not a \(Self.describe(Self.type(of: other)))")
            }
        case .contains:
            guard type == .string || type == .stringList else { return mismatch("contains applies to strings and string lists") }
            if case .string = literals.first {} else { mismatch("look for a string in it") }
        case .startsWith, .endsWith:
            if type != .string { mismatch("starts with and ends with apply to strings") }
        case .less, .lessOrEqual, .greater, .greaterOrEqual, .between:
            guard type == .number || type == .timestamp else { return mismatch("only numbers and timestamps can be ordered") }
            if let other = literals.first(where: { Self.type(of: $0) != type }) {
                mismatch("compare it with a \(name), not a \(Self.describe(Self.type(of: other)))")
            }
        case .containsAny, .containsAll:
            if type != .stringList { mismatch("contains any and contains all apply to string lists") }
        case .moreThanAgo, .lessThanAgo:
            if type != .timestamp { mismatch("more than … ago and less than … ago apply to timestamps") }
        }
    }
}

/// Finds cycles among segments that reference each other (`in segment …`).
public enum SegmentReferences {
    /// Segment ids a rule references, in order of first mention.
    public static func referenced(by rule: Rule) -> [String] {
        var out: [String] = []
        func walk(_ rule: Rule) {
            switch rule {
            case .all(let children), .any(let children): children.forEach(walk)
            case .not(let child): walk(child)
            case .segment(let condition): if !out.contains(condition.segment) { out.append(condition.segment) }
            default: break
            }
        }
        walk(rule)
        return out
    }

    /// The cycle `segment` would close if its rule referenced `references`,
    /// given every other segment's references: `[a, b, a]`, or nil.
    public static func cycle(saving segment: String, references: [String], others: [String: [String]]) -> [String]? {
        var graph = others
        graph[segment] = references
        // Depth-first search from the saved segment, with the path kept for the message.
        var path: [String] = [segment]
        var visited: Set<String> = []
        func visit(_ node: String) -> [String]? {
            for next in graph[node] ?? [] {
                if next == segment { return path + [segment] }
                guard !visited.contains(next) else { continue }
                visited.insert(next)
                path.append(next)
                if let found = visit(next) { return found }
                path.removeLast()
            }
            return nil
        }
        return visit(segment)
    }
}
