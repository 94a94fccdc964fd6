import Foundation
import SegmentRules
import SegmentdClient

/// Seeded random rules for property and differential tests: any node kind,
/// nested, drawing names and values from a vocabulary.
public struct RandomRules {
    /// The names and values rules are drawn from.
    public struct Vocabulary: Sendable {
        public var events: [String]
        public var numericProperties: [String]
        public var stringProperties: [String]
        public var stringValues: [String]
        public var attributes: [String]
        public var tags: [String]
        public var campaigns: [String]
        public var segments: [String]
        public var cities: [String]
        public var countries: [String]
        /// Times literals are drawn around.
        public var anchor: Date

        public init(
            events: [String], numericProperties: [String], stringProperties: [String], stringValues: [String],
            attributes: [String], tags: [String], campaigns: [String], segments: [String], cities: [String],
            countries: [String], anchor: Date
        ) {
            self.events = events
            self.numericProperties = numericProperties
            self.stringProperties = stringProperties
            self.stringValues = stringValues
            self.attributes = attributes
            self.tags = tags
            self.campaigns = campaigns
            self.segments = segments
            self.cities = cities
            self.countries = countries
            self.anchor = anchor
        }

        /// Names that stress the text form: keywords, quotes, spaces, unicode.
        public static let hostile = Vocabulary(
            events: ["purchase", "not", "did", "where", "a b", "x`y", "ünï", "time", "and", "q\"uote", "semi;colon", "$$", "NOT", "Or"],
            numericProperties: ["amount", "and", "in", "weird name", "between", "AND"],
            stringProperties: ["currency", "not", "is", "with`tick"],
            stringValues: ["EUR", "", "a\"b", "back\\slash", "new\nline", "'; DROP TABLE users; --", "$$", "日本", "e\u{301}", "\u{7}"],
            attributes: ["tier", "city", "not", "two words", "ä"],
            tags: ["vip", "no", "tag", "x y", "OR"],
            campaigns: ["spring_sale", "last", "any", "spring sale 2026", "\"quoted\""],
            segments: ["high_value", "segment", "in", "odd name"],
            cities: ["Istanbul", "São Paulo", "\"Q\""],
            countries: ["TR", "BR"],
            anchor: Date(timeIntervalSince1970: 1_790_000_000))
    }

    public var random: SplitMix64
    public let vocabulary: Vocabulary
    /// Deepest nesting generated.
    public var maxDepth = 4

    public init(seed: UInt64, vocabulary: Vocabulary = .hostile) {
        random = SplitMix64(seed: seed)
        self.vocabulary = vocabulary
    }

    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(random.next() % UInt64(range.count))
    }

    public mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    public mutating func chance(_ probability: Double) -> Bool { random.unit() < probability }

    public mutating func rule(depth: Int = 0) -> Rule {
        if depth < maxDepth, chance(0.35) {
            switch int(0...5) {
            case 0, 1: return .all((0..<int(0...3)).map { _ in rule(depth: depth + 1) })
            case 2, 3: return .any((0..<int(0...3)).map { _ in rule(depth: depth + 1) })
            default: return .not(rule(depth: depth + 1))
            }
        }
        return leaf()
    }

    public mutating func leaf() -> Rule {
        switch int(0...8) {
        case 0, 1: return .behavior(behavior())
        case 2: return .attribute(AttributeCondition(attribute: pick(vocabulary.attributes), test: valueTest(numeric: chance(0.5))))
        case 3:
            let campaign: CampaignSelector = chance(0.3) ? .last : chance(0.5) ? .any : .campaign(pick(vocabulary.campaigns))
            return .response(
                ResponseCondition(
                    kind: pick(ResponseKind.allCases), negated: chance(0.3), campaign: campaign, window: chance(0.5) ? window() : nil))
        case 4: return .tag(TagCondition(tag: pick(vocabulary.tags), negated: chance(0.3)))
        case 5:
            let place: Place
            switch int(0...3) {
            case 0:
                place = .within(
                    latitude: Double(int(-900...900)) / 10, longitude: Double(int(-1800...1800)) / 10,
                    meters: pick([500, 1000, 2500, 10_000, 1234.5]))
            case 1: place = .city(pick(vocabulary.cities))
            case 2: place = .country(pick(vocabulary.countries))
            default: place = .anywhere
            }
            return .location(LocationCondition(place: place, seen: chance(0.4) ? window() : nil))
        case 6: return .segment(SegmentCondition(segment: pick(vocabulary.segments), negated: chance(0.3)))
        default: return .behavior(behavior())
        }
    }

    public mutating func behavior() -> BehaviorCondition {
        let measure: BehaviorMeasure
        switch int(0...5) {
        case 0, 1, 2: measure = .count(chance(0.4) ? .greaterOrEqual(1) : comparison(small: true))
        case 3: measure = .aggregate(pick(AggregateFunction.allCases), property: pick(vocabulary.numericProperties), comparison(small: false))
        case 4: measure = .first(window())
        default: measure = .last(window())
        }
        return BehaviorCondition(
            event: pick(vocabulary.events), negated: chance(0.25), window: chance(0.6) ? window() : nil,
            filters: (0..<(chance(0.6) ? 0 : int(1...2))).map { _ in filter() }, measure: measure)
    }

    public mutating func filter() -> PropertyFilter {
        if chance(0.5) {
            return PropertyFilter(property: pick(vocabulary.numericProperties), test: valueTest(numeric: true))
        }
        return PropertyFilter(property: pick(vocabulary.stringProperties), test: valueTest(numeric: false))
    }

    public mutating func number(small: Bool) -> Double {
        if small { return Double(int(0...6)) }
        return pick([0, 1, 5, 10, 50, 99.5, 100, 250, -3, 0.25, 1e-5, 123_456.75])
    }

    public mutating func comparison(small: Bool) -> Comparison {
        let value = number(small: small)
        switch int(0...6) {
        case 0: return .equal(value)
        case 1: return .notEqual(value)
        case 2: return .less(value)
        case 3: return .lessOrEqual(value)
        case 4: return .greater(value)
        case 5: return .greaterOrEqual(value)
        default: return .between(value, value + number(small: small))
        }
    }

    public mutating func time() -> Date {
        // Whole seconds, sometimes at UTC midnight (printed as a date).
        let offset = Double(int(-120...5)) * 86_400 + (chance(0.5) ? 0 : Double(int(0...86_399)))
        return Date(timeIntervalSince1970: (vocabulary.anchor.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400 + offset)
    }

    public mutating func duration() -> RelativeTime {
        RelativeTime(Int64(int(1...48)), pick(TimeUnit.allCases))
    }

    public mutating func window() -> TimeWindow {
        switch int(0...4) {
        case 0, 1: return .last(duration())
        case 2: return chance(0.5) ? .since(time()) : .before(time())
        case 3:
            let start = time()
            return .between(start, start.addingTimeInterval(Double(int(1...30)) * 86_400))
        default: return .calendar(pick(CalendarPeriod.allCases), chance(0.3) ? .user : .tenant)
        }
    }

    public mutating func valueTest(numeric: Bool) -> ValueTest {
        func literal() -> Literal {
            numeric ? .number(number(small: false)) : .string(pick(vocabulary.stringValues))
        }
        switch int(0...13) {
        case 0: return .equals(numeric ? .number(number(small: false)) : .string(pick(vocabulary.stringValues)))
        case 1: return .notEquals(numeric ? .number(number(small: false)) : chance(0.2) ? .bool(chance(0.5)) : .string(pick(vocabulary.stringValues)))
        case 2: return .isIn((0..<int(0...3)).map { _ in numeric ? .number(number(small: false)) : .string(pick(vocabulary.stringValues)) })
        case 3: return .notIn((0..<int(1...3)).map { _ in numeric ? .number(number(small: false)) : .string(pick(vocabulary.stringValues)) })
        case 4: return numeric ? .exists : .contains(.string(pick(vocabulary.stringValues)))
        case 5: return numeric ? .notSet : .startsWith(pick(vocabulary.stringValues))
        case 6: return numeric ? .less(.number(number(small: false))) : .endsWith(pick(vocabulary.stringValues))
        case 7: return .lessOrEqual(numeric ? .number(number(small: false)) : .time(time()))
        case 8: return .greater(numeric ? .number(number(small: false)) : .time(time()))
        case 9: return .greaterOrEqual(numeric ? .number(number(small: false)) : .time(time()))
        case 10:
            if numeric {
                let low = number(small: false)
                return .between(.number(low), .number(low + 10))
            }
            let start = time()
            return .between(.time(start), .time(start.addingTimeInterval(86_400)))
        case 11: return numeric ? .exists : .containsAny((0..<int(1...3)).map { _ in pick(vocabulary.stringValues) })
        case 12: return numeric ? .notSet : .containsAll((0..<int(1...3)).map { _ in pick(vocabulary.stringValues) })
        default: return chance(0.5) ? .moreThanAgo(duration()) : .lessThanAgo(duration())
        }
    }
}
