import Foundation

extension ValueTest {
    /// Whether a value (nil when not set) passes the test.
    ///
    /// Every test but `notSet` needs the value set; `notEquals` and `notIn` are
    /// "set and not …". Values of another type than the literal never match
    /// (so `!=` with the wrong type matches every set value). Strings compare
    /// by their UTF-8 bytes, like PostgreSQL, not by Unicode equivalence.
    public func matches(_ value: RuleValue?, now: Date) -> Bool {
        guard let value else { return self == .notSet }
        switch self {
        case .exists: return true
        case .notSet: return false
        case .equals(let literal): return Self.equal(value, literal)
        case .notEquals(let literal): return !Self.equal(value, literal)
        case .isIn(let literals): return literals.contains { Self.equal(value, $0) }
        case .notIn(let literals): return !literals.contains { Self.equal(value, $0) }
        case .contains(let literal):
            guard case .string(let needle) = literal else { return false }
            switch value {
            case .string(let text): return Self.bytes(text, contain: needle)
            case .list(let items): return items.contains { Self.same($0, needle) }
            default: return false
            }
        case .startsWith(let prefix):
            guard case .string(let text) = value else { return false }
            return text.utf8.starts(with: prefix.utf8)
        case .endsWith(let suffix):
            guard case .string(let text) = value else { return false }
            return text.utf8.reversed().starts(with: suffix.utf8.reversed())
        case .less(let literal): return Self.order(value, literal).map { $0 < 0 } ?? false
        case .lessOrEqual(let literal): return Self.order(value, literal).map { $0 <= 0 } ?? false
        case .greater(let literal): return Self.order(value, literal).map { $0 > 0 } ?? false
        case .greaterOrEqual(let literal): return Self.order(value, literal).map { $0 >= 0 } ?? false
        case .between(let low, let high):
            guard let above = Self.order(value, low), let below = Self.order(value, high) else { return false }
            return above >= 0 && below <= 0
        case .containsAny(let needles):
            guard case .list(let items) = value else { return false }
            return needles.contains { needle in items.contains { Self.same($0, needle) } }
        case .containsAll(let needles):
            guard case .list(let items) = value else { return false }
            return needles.allSatisfy { needle in items.contains { Self.same($0, needle) } }
        case .moreThanAgo(let duration):
            guard case .time(let time) = value else { return false }
            return time < now.addingTimeInterval(-Double(duration.seconds))
        case .lessThanAgo(let duration):
            guard case .time(let time) = value else { return false }
            return time > now.addingTimeInterval(-Double(duration.seconds)) && time <= now
        }
    }

    static func same(_ a: String, _ b: String) -> Bool { a.hasSameBytes(as: b) }

    static func bytes(_ text: String, contain needle: String) -> Bool {
        let haystack = Array(text.utf8)
        let pattern = Array(needle.utf8)
        guard !pattern.isEmpty else { return true }
        guard pattern.count <= haystack.count else { return false }
        for start in 0...(haystack.count - pattern.count) where haystack[start] == pattern[0] {
            if haystack[start..<(start + pattern.count)].elementsEqual(pattern) { return true }
        }
        return false
    }

    static func equal(_ value: RuleValue, _ literal: Literal) -> Bool {
        switch (value, literal) {
        case (.string(let a), .string(let b)): return same(a, b)
        case (.number(let a), .number(let b)): return a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.time(let a), .time(let b)): return a == b
        default: return false
        }
    }

    /// -1, 0, 1 for numbers against numbers and times against times; nil otherwise.
    static func order(_ value: RuleValue, _ literal: Literal) -> Int? {
        switch (value, literal) {
        case (.number(let a), .number(let b)): return a < b ? -1 : a > b ? 1 : 0
        case (.time(let a), .time(let b)): return a < b ? -1 : a > b ? 1 : 0
        default: return nil
        }
    }
}
