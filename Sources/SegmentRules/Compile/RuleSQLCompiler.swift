import Foundation

/// Compiles a rule to one SQL query returning the `user_index` of every member.
///
/// Each leaf becomes a set of users plus a polarity: the leaf holds for the
/// users in the set, or (negative) for every user *not* in it. `and`/`or`/`not`
/// combine sets with INTERSECT / UNION / EXCEPT by De Morgan, so the universe of
/// all users is touched once, at the end, and only when the result is negative.
/// Leaves that hold for users with no data at all ("did not purchase", "fewer
/// than 3 times", "sum < 100") are negative sets, which is what makes them
/// correct for users without events.
///
/// Every value is a bound parameter and every identifier in the SQL text is a
/// constant of this file: names from the rule are parameters too.
public struct RuleSQLCompiler {
    public let catalog: RuleCatalog
    public let context: EvaluationContext

    private var parameters: [SQLParameter] = []
    private var zoneBounds: [CalendarPeriod: String] = [:]
    private var ctes: [String] = []

    public init(catalog: RuleCatalog, context: EvaluationContext) {
        self.catalog = catalog
        self.context = context
    }

    /// The member query. `$1` is the tenant id.
    public static func compile(_ rule: Rule, tenant: String, catalog: RuleCatalog, context: EvaluationContext) -> CompiledQuery {
        var compiler = RuleSQLCompiler(catalog: catalog, context: context)
        return compiler.members(rule, tenant: tenant)
    }

    mutating func members(_ rule: Rule, tenant: String) -> CompiledQuery {
        parameters = [.text(tenant)]
        let set = compile(rule)
        var sql = ctes.isEmpty ? "" : "WITH " + ctes.joined(separator: ",\n") + "\n"
        if set.positive {
            sql += set.sql
        } else {
            sql += "SELECT user_index FROM users WHERE tenant_id = $1\nEXCEPT\n(" + set.sql + ")"
        }
        return CompiledQuery(sql: sql, parameters: parameters)
    }

    /// A set of user indexes and whether the rule holds inside (positive) or outside it.
    struct UserSet {
        var sql: String
        var positive: Bool
        static let none = "SELECT NULL::bigint AS user_index WHERE false"
        static func empty(positive: Bool) -> UserSet { UserSet(sql: none, positive: positive) }
        var negated: UserSet { UserSet(sql: sql, positive: !positive) }
    }

    private mutating func bind(_ parameter: SQLParameter) -> String {
        parameters.append(parameter)
        return "$\(parameters.count)"
    }

    // MARK: Boolean structure

    private mutating func compile(_ rule: Rule) -> UserSet {
        switch rule {
        case .all(let children):
            let sets = children.map { compile($0) }
            let positives = sets.filter(\.positive).map(\.sql)
            let negatives = sets.filter { !$0.positive }.map(\.sql)
            if positives.isEmpty { return UserSet(sql: Self.combine(negatives, "UNION"), positive: false) }
            var sql = Self.combine(positives, "INTERSECT")
            if !negatives.isEmpty { sql = "(\(sql))\nEXCEPT\n(\(Self.combine(negatives, "UNION")))" }
            return UserSet(sql: sql, positive: true)
        case .any(let children):
            let sets = children.map { compile($0) }
            let positives = sets.filter(\.positive).map(\.sql)
            let negatives = sets.filter { !$0.positive }.map(\.sql)
            if negatives.isEmpty { return UserSet(sql: Self.combine(positives, "UNION"), positive: true) }
            var sql = Self.combine(negatives, "INTERSECT")
            if !positives.isEmpty { sql = "(\(sql))\nEXCEPT\n(\(Self.combine(positives, "UNION")))" }
            return UserSet(sql: sql, positive: false)
        case .not(let child): return compile(child).negated
        case .behavior(let condition): return behavior(condition)
        case .attribute(let condition): return attribute(condition)
        case .response(let condition): return response(condition)
        case .tag(let condition):
            let set = UserSet(sql: "SELECT user_index FROM user_tags WHERE tenant_id = $1 AND tag_id = \(bind(.text(condition.tag)))", positive: true)
            return condition.negated ? set.negated : set
        case .location(let condition): return location(condition)
        case .segment(let condition):
            let set = UserSet(
                sql: "SELECT user_index FROM segment_members WHERE tenant_id = $1 AND segment_id = \(bind(.text(condition.segment)))",
                positive: true)
            return condition.negated ? set.negated : set
        }
    }

    private static func combine(_ parts: [String], _ operation: String) -> String {
        switch parts.count {
        case 0: return UserSet.none
        case 1: return parts[0]
        default: return parts.map { "(\($0))" }.joined(separator: "\n\(operation)\n")
        }
    }

    // MARK: Windows

    /// A predicate on `column` for `window`; `user` is the user-index column
    /// when per-user time zones may apply.
    private mutating func window(_ window: TimeWindow, column: String, user: String) -> String {
        switch window {
        case .last(let duration):
            return "\(column) >= \(bind(.timestamptz(context.now.addingTimeInterval(-Double(duration.seconds)))))"
        case .since(let start): return "\(column) >= \(bind(.timestamptz(start)))"
        case .before(let end): return "\(column) < \(bind(.timestamptz(end)))"
        case .between(let start, let end):
            return "\(column) >= \(bind(.timestamptz(start))) AND \(column) < \(bind(.timestamptz(end)))"
        case .calendar(let period, .tenant):
            let (start, end) = context.interval(period, in: context.tenantTimeZone)
            return "\(column) >= \(bind(.timestamptz(start))) AND \(column) < \(bind(.timestamptz(end)))"
        case .calendar(let period, .user):
            let (start, end) = context.interval(period, in: context.tenantTimeZone)
            let bounds = userZoneBounds(period)
            let lookup = "(SELECT b.%@ FROM \(bounds) b WHERE b.user_index = \(user))"
            return "\(column) >= coalesce(\(lookup.replacingOccurrences(of: "%@", with: "s")), \(bind(.timestamptz(start))))"
                + " AND \(column) < coalesce(\(lookup.replacingOccurrences(of: "%@", with: "e")), \(bind(.timestamptz(end))))"
        }
    }

    /// A CTE with each user's [s, e) of `period` in the time zone of their
    /// `time_zone` attribute (users without a valid one are absent: the tenant's applies).
    private mutating func userZoneBounds(_ period: CalendarPeriod) -> String {
        if let name = zoneBounds[period] { return name }
        let name = "user_zone_\(zoneBounds.count + 1)"
        zoneBounds[period] = name
        let now = bind(.timestamptz(context.now))
        let key = bind(.text(RuleSemantics.timeZoneAttribute))
        let local = "(\(now)::timestamptz AT TIME ZONE z.name)"
        let (unit, back): (String, Bool)
        switch period {
        case .today: (unit, back) = ("day", false)
        case .yesterday: (unit, back) = ("day", true)
        case .thisWeek: (unit, back) = ("week", false)
        case .lastWeek: (unit, back) = ("week", true)
        case .thisMonth: (unit, back) = ("month", false)
        case .lastMonth: (unit, back) = ("month", true)
        }
        let current = "date_trunc('\(unit)', \(local))"
        let start = back ? "(\(current) - interval '1 \(unit)')" : current
        let end = back ? current : "(\(current) + interval '1 \(unit)')"
        ctes.append(
            """
            \(name) AS MATERIALIZED (
                SELECT p.user_index, (\(start)) AT TIME ZONE z.name AS s, (\(end)) AT TIME ZONE z.name AS e
                FROM profiles p JOIN pg_timezone_names z ON z.name = p.attributes ->> \(key)
                WHERE p.tenant_id = $1 AND jsonb_typeof(p.attributes -> \(key)) = 'string'
            )
            """)
        return name
    }

    // MARK: Values

    /// A typed SQL expression for `column -> key` (NULL when another type is stored).
    private func value(_ column: String, key: String, type: ValueType) -> String {
        switch type {
        case .number: return "(CASE WHEN jsonb_typeof(\(column) -> \(key)) = 'number' THEN (\(column) ->> \(key))::float8 END)"
        case .string: return "(CASE WHEN jsonb_typeof(\(column) -> \(key)) = 'string' THEN \(column) ->> \(key) END)"
        case .bool: return "(CASE WHEN jsonb_typeof(\(column) -> \(key)) = 'boolean' THEN (\(column) ->> \(key))::boolean END)"
        case .timestamp: return "(CASE WHEN jsonb_typeof(\(column) -> \(key)) = 'string' THEN (\(column) ->> \(key))::timestamptz END)"
        case .stringList: return "(CASE WHEN jsonb_typeof(\(column) -> \(key)) = 'array' THEN \(column) -> \(key) END)"
        }
    }

    /// Whether a literal can equal or order against a value of `type`; its parameter when it can.
    private mutating func literal(_ literal: Literal, for type: ValueType) -> String? {
        switch (literal, type) {
        case (.string(let text), .string): return bind(.text(text))
        case (.number(let number), .number): return bind(.float8(number))
        case (.bool(let flag), .bool): return bind(.bool(flag))
        case (.time(let date), .timestamp): return bind(.timestamptz(date))
        default: return nil
        }
    }

    private mutating func literalArray(_ literals: [Literal], for type: ValueType) -> String? {
        switch type {
        case .string:
            let values = literals.compactMap { if case .string(let v) = $0 { return v } else { return nil } }
            return values.isEmpty ? nil : bind(.textArray(values)) + "::text[]"
        case .number:
            let values = literals.compactMap { if case .number(let v) = $0 { return v } else { return nil } }
            return values.isEmpty ? nil : bind(.float8Array(values)) + "::float8[]"
        case .bool:
            let values = literals.compactMap { if case .bool(let v) = $0 { return v } else { return nil } }
            return values.isEmpty ? nil : bind(.boolArray(values)) + "::bool[]"
        case .timestamp:
            let values = literals.compactMap { if case .time(let v) = $0 { return v } else { return nil } }
            return values.isEmpty ? nil : bind(.timestamptzArray(values)) + "::timestamptz[]"
        case .stringList:
            return nil
        }
    }

    /// A predicate for `test` on `column -> name`; `type` is nil when the catalog has never seen it.
    private mutating func predicate(_ test: ValueTest, column: String, name: String, type: ValueType?) -> String {
        let key = bind(.text(name))
        let isSet = "\(column) ? \(key)"
        guard let type else { return test == .notSet ? "true" : "false" }
        let x = value(column, key: key, type: type)
        switch test {
        case .exists: return isSet
        case .notSet: return "NOT (\(isSet))"
        case .equals(let lit):
            guard let p = literal(lit, for: type) else { return "false" }
            return "\(x) = \(p)"
        case .notEquals(let lit):
            guard let p = literal(lit, for: type) else { return isSet }
            return "\(isSet) AND (\(x) = \(p)) IS NOT TRUE"
        case .isIn(let lits):
            guard let array = literalArray(lits, for: type) else { return "false" }
            return "\(x) = ANY(\(array))"
        case .notIn(let lits):
            guard let array = literalArray(lits, for: type) else { return isSet }
            return "\(isSet) AND (\(x) = ANY(\(array))) IS NOT TRUE"
        case .contains(let lit):
            guard case .string(let needle) = lit else { return "false" }
            switch type {
            case .string: return "strpos(\(x), \(bind(.text(needle)))) > 0"
            case .stringList: return "\(x) ? \(bind(.text(needle)))"
            default: return "false"
            }
        case .startsWith(let prefix):
            guard type == .string else { return "false" }
            return "starts_with(\(x), \(bind(.text(prefix))))"
        case .endsWith(let suffix):
            guard type == .string else { return "false" }
            let p = bind(.text(suffix))
            return "right(\(x), length(\(p))) = \(p)"
        case .less(let lit): return ordered(x, "<", lit, type)
        case .lessOrEqual(let lit): return ordered(x, "<=", lit, type)
        case .greater(let lit): return ordered(x, ">", lit, type)
        case .greaterOrEqual(let lit): return ordered(x, ">=", lit, type)
        case .between(let low, let high):
            guard type == .number || type == .timestamp, let a = literal(low, for: type), let b = literal(high, for: type) else { return "false" }
            return "\(x) BETWEEN \(a) AND \(b)"
        case .containsAny(let needles):
            guard type == .stringList else { return "false" }
            return "\(x) ?| \(bind(.textArray(needles)))::text[]"
        case .containsAll(let needles):
            guard type == .stringList else { return "false" }
            return "\(x) ?& \(bind(.textArray(needles)))::text[]"
        case .moreThanAgo(let duration):
            guard type == .timestamp else { return "false" }
            return "\(x) < \(bind(.timestamptz(context.now.addingTimeInterval(-Double(duration.seconds)))))"
        case .lessThanAgo(let duration):
            guard type == .timestamp else { return "false" }
            let cut = bind(.timestamptz(context.now.addingTimeInterval(-Double(duration.seconds))))
            return "\(x) > \(cut) AND \(x) <= \(bind(.timestamptz(context.now)))"
        }
    }

    private mutating func ordered(_ x: String, _ op: String, _ lit: Literal, _ type: ValueType) -> String {
        guard type == .number || type == .timestamp, let p = literal(lit, for: type) else { return "false" }
        return "\(x) \(op) \(p)"
    }

    private mutating func comparison(_ x: String, _ comparison: Comparison) -> String {
        switch comparison {
        case .equal(let v): return "\(x) = \(bind(.float8(v)))"
        case .notEqual(let v): return "\(x) <> \(bind(.float8(v)))"
        case .less(let v): return "\(x) < \(bind(.float8(v)))"
        case .lessOrEqual(let v): return "\(x) <= \(bind(.float8(v)))"
        case .greater(let v): return "\(x) > \(bind(.float8(v)))"
        case .greaterOrEqual(let v): return "\(x) >= \(bind(.float8(v)))"
        case .between(let low, let high): return "\(x) BETWEEN \(bind(.float8(low))) AND \(bind(.float8(high)))"
        }
    }

    // MARK: Leaves

    private mutating func attribute(_ condition: AttributeCondition) -> UserSet {
        let type = catalog.attributes[condition.attribute]
        // "is not set" holds for users without a profile: the complement of "exists".
        if condition.test == .notSet {
            return attribute(AttributeCondition(attribute: condition.attribute, test: .exists)).negated
        }
        guard type != nil else { return .empty(positive: true) }
        let where_ = predicate(condition.test, column: "p.attributes", name: condition.attribute, type: type)
        return UserSet(sql: "SELECT p.user_index FROM profiles p WHERE p.tenant_id = $1 AND \(where_)", positive: true)
    }

    /// `FROM events e WHERE …` for the events a behavior condition looks at.
    private mutating func eventScope(_ condition: BehaviorCondition) -> String {
        var conditions = ["e.tenant_id = $1", "e.event_name = \(bind(.text(condition.event)))"]
        if let window = condition.window { conditions.append(self.window(window, column: "e.time", user: "e.user_index")) }
        let types = catalog.properties[condition.event] ?? [:]
        for filter in condition.filters {
            conditions.append("(" + predicate(filter.test, column: "e.properties", name: filter.property, type: types[filter.property]) + ")")
        }
        return "FROM events e WHERE " + conditions.joined(separator: " AND ")
    }

    /// Whether `time` is a UTC midnight (where per-day rollups split exactly).
    private static func isMidnight(_ time: Date) -> Bool {
        time.timeIntervalSince1970.truncatingRemainder(dividingBy: 86_400) == 0
    }

    /// The day condition that selects the same events as `window` from the
    /// per-day rollups, or nil when the rollups cannot answer it exactly.
    private mutating func rollupDays(_ window: TimeWindow?) -> String?? {
        func day(_ time: Date) -> String { "(\(bind(.timestamptz(time)))::timestamptz AT TIME ZONE 'UTC')::date" }
        switch window {
        case nil: return .some(nil)
        case .since(let start) where Self.isMidnight(start): return "e.day >= \(day(start))"
        case .before(let end) where Self.isMidnight(end): return "e.day < \(day(end))"
        case .between(let start, let end) where Self.isMidnight(start) && Self.isMidnight(end):
            return "e.day >= \(day(start)) AND e.day < \(day(end))"
        default: return nil
        }
    }

    /// Where a behavior condition's numbers come from: raw events, or — for
    /// conditions without property filters whose window is all time or falls on
    /// UTC days — the per-day rollups (one row per user, event and day).
    private struct BehaviorSource {
        /// `FROM … e WHERE …`.
        var scope: String
        var count: String
        var first: String
        var last: String
        var rollups: Bool
    }

    private mutating func behaviorSource(_ condition: BehaviorCondition) -> BehaviorSource {
        if condition.filters.isEmpty, case .some(let days) = rollupDays(condition.window) {
            var scope = "FROM event_rollups e WHERE e.tenant_id = $1 AND e.event_name = \(bind(.text(condition.event)))"
            if let days { scope += " AND " + days }
            return BehaviorSource(scope: scope, count: "sum(e.count)::float8", first: "min(e.first_at)", last: "max(e.last_at)", rollups: true)
        }
        return BehaviorSource(scope: eventScope(condition), count: "count(*)::float8", first: "min(e.time)", last: "max(e.time)", rollups: false)
    }

    /// Users whose `value` (an aggregate over `scope`) satisfies `comparison`.
    /// When users without data satisfy it too, the set is negative: the users
    /// whose value fails it.
    private mutating func grouped(_ scope: String, _ value: String, _ comparison: Comparison, holdsWithoutData: Bool) -> UserSet {
        if holdsWithoutData {
            return UserSet(
                sql: "SELECT e.user_index \(scope) GROUP BY e.user_index HAVING NOT (\(self.comparison(value, comparison)))", positive: false)
        }
        return UserSet(sql: "SELECT e.user_index \(scope) GROUP BY e.user_index HAVING \(self.comparison(value, comparison))", positive: true)
    }

    private mutating func behavior(_ condition: BehaviorCondition) -> UserSet {
        if case .aggregate(let function, let property, let compared) = condition.measure,
            (catalog.properties[condition.event] ?? [:])[property] != .number
        {
            // No numeric values: the sum is 0, the others do not exist.
            let set = UserSet.empty(positive: !(function == .sum && compared.holds(0)))
            return condition.negated ? set.negated : set
        }
        let source = behaviorSource(condition)
        let set: UserSet
        switch condition.measure {
        case .count(let count):
            if count == .greaterOrEqual(1) {
                set = UserSet(sql: "SELECT DISTINCT e.user_index " + source.scope, positive: true)
            } else {
                set = grouped(source.scope, source.count, count, holdsWithoutData: count.holds(0))
            }
        case .aggregate(let function, let property, let compared):
            let key = bind(.text(property))
            let value: String
            let present: String
            if source.rollups {
                let part = { (field: String) in "(e.numbers -> \(key) ->> '\(field)')::float8" }
                switch function {
                case .sum: value = "sum(\(part("s")))"
                case .avg: value = "(sum(\(part("s"))) / sum(\(part("n"))))"
                case .min: value = "min(\(part("mn")))"
                case .max: value = "max(\(part("mx")))"
                }
                present = "e.numbers ? \(key)"
            } else {
                value = "\(function.rawValue)((e.properties ->> \(key))::float8)"
                present = "jsonb_typeof(e.properties -> \(key)) = 'number'"
            }
            set = grouped(source.scope + " AND " + present, value, compared, holdsWithoutData: function == .sum && compared.holds(0))
        case .first(let when), .last(let when):
            let isFirst: Bool
            if case .first = condition.measure { isFirst = true } else { isFirst = false }
            let having = window(when, column: isFirst ? source.first : source.last, user: "e.user_index")
            set = UserSet(sql: "SELECT e.user_index \(source.scope) GROUP BY e.user_index HAVING \(having)", positive: true)
        }
        return condition.negated ? set.negated : set
    }

    private mutating func response(_ condition: ResponseCondition) -> UserSet {
        var conditions = ["r.tenant_id = $1", "r.kind = \(bind(.text(condition.kind.rawValue)))"]
        switch condition.campaign {
        case .campaign(let id): conditions.append("r.campaign_id = \(bind(.text(id)))")
        case .last:
            guard let last = context.lastCampaign else { return .empty(positive: !condition.negated) }
            conditions.append("r.campaign_id = \(bind(.text(last)))")
        case .any: break
        }
        if let window = condition.window { conditions.append(self.window(window, column: "r.time", user: "r.user_index")) }
        let set = UserSet(
            sql: "SELECT DISTINCT r.user_index FROM campaign_responses r WHERE " + conditions.joined(separator: " AND "), positive: true)
        return condition.negated ? set.negated : set
    }

    private mutating func location(_ condition: LocationCondition) -> UserSet {
        var conditions = ["p.tenant_id = $1"]
        switch condition.place {
        case .anywhere:
            conditions.append("p.last_location_at IS NOT NULL")
        case .within(let latitude, let longitude, let meters):
            // The evaluator's haversine, operation for operation, so both agree at the edge.
            let lat = bind(.float8(latitude))
            let lon = bind(.float8(longitude))
            let k = bind(.float8(Double.pi / 180))
            let dp = "((\(lat) - p.last_latitude) * \(k) / 2)"
            let dl = "((\(lon) - p.last_longitude) * \(k) / 2)"
            let a = "(sin(\(dp)) * sin(\(dp)) + cos(p.last_latitude * \(k)) * cos(\(lat) * \(k)) * sin(\(dl)) * sin(\(dl)))"
            conditions.append("p.last_latitude IS NOT NULL AND p.last_location_at IS NOT NULL")
            conditions.append("2 * \(bind(.float8(RuleSemantics.earthRadius))) * asin(least(1, sqrt(\(a)))) <= \(bind(.float8(meters)))")
        case .city(let name), .country(let name):
            let attribute: String
            if case .city = condition.place { attribute = RuleSemantics.cityAttribute } else { attribute = RuleSemantics.countryAttribute }
            let key = bind(.text(attribute))
            let lowered = String(decoding: RuleSemantics.asciiLowercased(name), as: UTF8.self)
            conditions.append(
                "jsonb_typeof(p.attributes -> \(key)) = 'string' AND "
                    + "translate(p.attributes ->> \(key), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') = \(bind(.text(lowered)))")
        }
        if let seen = condition.seen { conditions.append(window(seen, column: "p.last_location_at", user: "p.user_index")) }
        return UserSet(sql: "SELECT p.user_index FROM profiles p WHERE " + conditions.joined(separator: " AND "), positive: true)
    }
}
