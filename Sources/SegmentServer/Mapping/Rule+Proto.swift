import Foundation
import SegmentDomain
import SegmentRules
import SegmentdAPI
import SwiftProtobuf

/// A rule AST from the wire that is not well-formed: which node, what is wrong.
struct RuleConversionError: Error, Equatable {
    /// The node's path (`rule.ast.all[1].behavior.window`).
    let path: String
    let reason: String
}

/// Maps between the wire AST (`segmentd.v1.Rule`) and the domain AST, one to one.
enum RuleProtoMapping {
    // MARK: Wire → domain

    static func rule(_ proto: Segmentd_V1_Rule, path: String = "rule.ast") throws -> Rule {
        switch proto.node {
        case .all(let group): return .all(try group.rules.enumerated().map { try rule($1, path: "\(path).all[\($0)]") })
        case .any(let group): return .any(try group.rules.enumerated().map { try rule($1, path: "\(path).any[\($0)]") })
        case .not(let child): return .not(try rule(child, path: "\(path).not"))
        case .behavior(let condition): return .behavior(try behavior(condition, path: "\(path).behavior"))
        case .attribute(let condition):
            return .attribute(
                AttributeCondition(
                    attribute: condition.attribute, test: try test(condition.test, path: "\(path).attribute.test")))
        case .response(let condition):
            let kinds: [Segmentd_V1_ResponseKind: ResponseKind] = [
                .received: .received, .opened: .opened, .clicked: .clicked, .converted: .converted,
            ]
            guard let kind = kinds[condition.kind] else { throw RuleConversionError(path: "\(path).response.kind", reason: "set a response kind") }
            let campaign: CampaignSelector
            switch condition.campaign.campaign {
            case .campaignID(let id): campaign = .campaign(id)
            case .lastCampaign: campaign = .last
            case .anyCampaign, .none: campaign = .any
            }
            return .response(
                ResponseCondition(
                    kind: kind, negated: condition.negated, campaign: campaign,
                    window: try window(condition.hasWindow ? condition.window : nil, path: "\(path).response.window")))
        case .tag(let condition): return .tag(TagCondition(tag: condition.tag, negated: condition.negated))
        case .location(let condition):
            let place: Place
            switch condition.place {
            case .within(let radius):
                place = .within(latitude: radius.center.latitude, longitude: radius.center.longitude, meters: radius.radiusMeters)
            case .city(let city): place = .city(city)
            case .country(let country): place = .country(country)
            case .none: place = .anywhere
            }
            return .location(
                LocationCondition(
                    place: place, seen: try window(condition.hasSeen ? condition.seen : nil, path: "\(path).location.seen")))
        case .segment(let condition): return .segment(SegmentCondition(segment: condition.segment, negated: condition.negated))
        case .none: throw RuleConversionError(path: path, reason: "an empty rule node")
        }
    }

    static func behavior(_ proto: Segmentd_V1_BehaviorCondition, path: String) throws -> BehaviorCondition {
        let measures = [proto.hasCount, proto.hasAggregate, proto.hasOccurrence].filter { $0 }.count
        guard measures <= 1 else {
            throw RuleConversionError(path: path, reason: "set at most one of count, aggregate and occurrence")
        }
        var measure = BehaviorMeasure.count(.greaterOrEqual(1))
        if proto.hasCount {
            measure = .count(try comparison(proto.count, path: "\(path).count"))
        } else if proto.hasAggregate {
            let functions: [Segmentd_V1_AggregateFunction: AggregateFunction] = [.sum: .sum, .avg: .avg, .min: .min, .max: .max]
            guard let function = functions[proto.aggregate.function] else {
                throw RuleConversionError(path: "\(path).aggregate.function", reason: "set sum, avg, min or max")
            }
            measure = .aggregate(
                function, property: proto.aggregate.property,
                try comparison(proto.aggregate.comparison, path: "\(path).aggregate.comparison"))
        } else if proto.hasOccurrence {
            guard let when = try window(proto.occurrence.hasWindow ? proto.occurrence.window : nil, path: "\(path).occurrence.window") else {
                throw RuleConversionError(path: "\(path).occurrence.window", reason: "a first/last condition needs a window")
            }
            switch proto.occurrence.occurrence {
            case .first: measure = .first(when)
            case .last: measure = .last(when)
            default: throw RuleConversionError(path: "\(path).occurrence.occurrence", reason: "set FIRST or LAST")
            }
        }
        return BehaviorCondition(
            event: proto.event, negated: proto.negated,
            window: try window(proto.hasWindow ? proto.window : nil, path: "\(path).window"),
            filters: try proto.where.enumerated().map { index, filter in
                PropertyFilter(property: filter.property, test: try test(filter.test, path: "\(path).where[\(index)].test"))
            },
            measure: measure)
    }

    static func window(_ proto: Segmentd_V1_TimeWindow?, path: String) throws -> TimeWindow? {
        guard let proto else { return nil }
        switch proto.window {
        case .last(let relative): return .last(try relativeTime(relative, path: "\(path).last"))
        case .since(let time): return .since(time.date)
        case .before(let time): return .before(time.date)
        case .between(let range):
            guard range.start.date < range.end.date else { throw RuleConversionError(path: "\(path).between", reason: "start must be before end") }
            return .between(range.start.date, range.end.date)
        case .calendar(let calendar):
            let periods: [Segmentd_V1_CalendarPeriod: CalendarPeriod] = [
                .today: .today, .yesterday: .yesterday, .thisWeek: .thisWeek, .lastWeek: .lastWeek,
                .thisMonth: .thisMonth, .lastMonth: .lastMonth,
            ]
            guard let period = periods[calendar.period] else { throw RuleConversionError(path: "\(path).calendar.period", reason: "set a period") }
            return .calendar(period, calendar.timeZone == .userTimeZone ? .user : .tenant)
        case .none: return nil
        }
    }

    static func relativeTime(_ proto: Segmentd_V1_RelativeTime, path: String) throws -> RelativeTime {
        let units: [Segmentd_V1_TimeUnit: TimeUnit] = [.minutes: .minutes, .hours: .hours, .days: .days, .weeks: .weeks]
        guard let unit = units[proto.unit] else { throw RuleConversionError(path: "\(path).unit", reason: "set a time unit") }
        guard proto.amount >= 1 else { throw RuleConversionError(path: "\(path).amount", reason: "must be at least 1") }
        return RelativeTime(proto.amount, unit)
    }

    static func comparison(_ proto: Segmentd_V1_NumberComparison, path: String) throws -> Comparison {
        switch proto.op {
        case .equal: return .equal(proto.value)
        case .notEqual: return .notEqual(proto.value)
        case .less: return .less(proto.value)
        case .lessOrEqual: return .lessOrEqual(proto.value)
        case .greater: return .greater(proto.value)
        case .greaterOrEqual: return .greaterOrEqual(proto.value)
        case .between:
            guard proto.value <= proto.upper else { throw RuleConversionError(path: path, reason: "the lower bound is above the upper") }
            return .between(proto.value, proto.upper)
        default: throw RuleConversionError(path: "\(path).op", reason: "set a comparison operator")
        }
    }

    static func literal(_ proto: Segmentd_V1_Value, path: String) throws -> Literal {
        switch proto.kind {
        case .stringValue(let text): return .string(text)
        case .numberValue(let number): return .number(number)
        case .boolValue(let flag): return .bool(flag)
        case .timestampValue(let time): return .time(time.date)
        case .stringListValue, .none: throw RuleConversionError(path: path, reason: "a single string, number, bool or timestamp")
        }
    }

    static func strings(_ values: [Segmentd_V1_Value], path: String) throws -> [String] {
        try values.enumerated().map { index, value in
            guard case .stringValue(let text) = value.kind else { throw RuleConversionError(path: "\(path)[\(index)]", reason: "a string") }
            return text
        }
    }

    static func test(_ proto: Segmentd_V1_ValueTest, path: String) throws -> ValueTest {
        func one() throws -> Literal {
            guard proto.hasValue else { throw RuleConversionError(path: "\(path).value", reason: "set a value") }
            return try literal(proto.value, path: "\(path).value")
        }
        func text() throws -> String {
            guard case .string(let text) = try one() else { throw RuleConversionError(path: "\(path).value", reason: "a string") }
            return text
        }
        func number() throws -> Double {
            guard case .number(let number) = try one() else { throw RuleConversionError(path: "\(path).value", reason: "a number") }
            return number
        }
        func relative() throws -> RelativeTime {
            guard proto.hasRelative else { throw RuleConversionError(path: "\(path).relative", reason: "set a duration") }
            return try relativeTime(proto.relative, path: "\(path).relative")
        }
        switch proto.op {
        case .equals: return .equals(try one())
        case .notEquals: return .notEquals(try one())
        case .in: return .isIn(try proto.values.enumerated().map { try literal($1, path: "\(path).values[\($0)]") })
        case .notIn: return .notIn(try proto.values.enumerated().map { try literal($1, path: "\(path).values[\($0)]") })
        case .contains: return .contains(try one())
        case .startsWith: return .startsWith(try text())
        case .endsWith: return .endsWith(try text())
        case .exists: return .exists
        case .notSet: return .notSet
        case .lessThan: return .less(try one())
        case .atMost: return .lessOrEqual(try one())
        case .greaterThan: return .greater(try one())
        case .atLeast: return .greaterOrEqual(try one())
        case .inRange:
            guard proto.hasUpper else { throw RuleConversionError(path: "\(path).upper", reason: "set an upper bound") }
            return .between(try one(), try literal(proto.upper, path: "\(path).upper"))
        case .containsAny: return .containsAny(try strings(proto.values, path: "\(path).values"))
        case .containsAll: return .containsAll(try strings(proto.values, path: "\(path).values"))
        case .moreThanAgo: return .moreThanAgo(try relative())
        case .lessThanAgo: return .lessThanAgo(try relative())
        default: throw RuleConversionError(path: "\(path).op", reason: "set an operator")
        }
    }

    // MARK: Domain → wire

    static func proto(_ rule: Rule) -> Segmentd_V1_Rule {
        .with { node in
            switch rule {
            case .all(let children): node.all = .with { $0.rules = children.map(proto) }
            case .any(let children): node.any = .with { $0.rules = children.map(proto) }
            case .not(let child): node.not = proto(child)
            case .behavior(let condition): node.behavior = proto(condition)
            case .attribute(let condition):
                node.attribute = .with {
                    $0.attribute = condition.attribute
                    $0.test = proto(condition.test)
                }
            case .response(let condition):
                node.response = .with {
                    $0.kind = proto(condition.kind)
                    $0.negated = condition.negated
                    switch condition.campaign {
                    case .campaign(let id): $0.campaign.campaignID = id
                    case .last: $0.campaign.lastCampaign = true
                    case .any: $0.campaign.anyCampaign = true
                    }
                    if let window = condition.window { $0.window = proto(window) }
                }
            case .tag(let condition):
                node.tag = .with {
                    $0.tag = condition.tag
                    $0.negated = condition.negated
                }
            case .location(let condition):
                node.location = .with {
                    switch condition.place {
                    case .within(let latitude, let longitude, let meters):
                        $0.within = .with {
                            $0.center = .with {
                                $0.latitude = latitude
                                $0.longitude = longitude
                            }
                            $0.radiusMeters = meters
                        }
                    case .city(let city): $0.city = city
                    case .country(let country): $0.country = country
                    case .anywhere: break
                    }
                    if let seen = condition.seen { $0.seen = proto(seen) }
                }
            case .segment(let condition):
                node.segment = .with {
                    $0.segment = condition.segment
                    $0.negated = condition.negated
                }
            }
        }
    }

    static func proto(_ condition: BehaviorCondition) -> Segmentd_V1_BehaviorCondition {
        .with {
            $0.event = condition.event
            $0.negated = condition.negated
            if let window = condition.window { $0.window = proto(window) }
            $0.where = condition.filters.map { filter in
                .with {
                    $0.property = filter.property
                    $0.test = proto(filter.test)
                }
            }
            switch condition.measure {
            case .count(.greaterOrEqual(1)): break
            case .count(let comparison): $0.count = proto(comparison)
            case .aggregate(let function, let property, let comparison):
                $0.aggregate = .with {
                    $0.function = proto(function)
                    $0.property = property
                    $0.comparison = proto(comparison)
                }
            case .first(let window):
                $0.occurrence = .with {
                    $0.occurrence = .first
                    $0.window = proto(window)
                }
            case .last(let window):
                $0.occurrence = .with {
                    $0.occurrence = .last
                    $0.window = proto(window)
                }
            }
        }
    }

    static func proto(_ window: TimeWindow) -> Segmentd_V1_TimeWindow {
        .with {
            switch window {
            case .last(let relative): $0.last = proto(relative)
            case .since(let date): $0.since = .init(date: date)
            case .before(let date): $0.before = .init(date: date)
            case .between(let start, let end):
                $0.between = .with {
                    $0.start = .init(date: start)
                    $0.end = .init(date: end)
                }
            case .calendar(let period, let zone):
                $0.calendar = .with {
                    $0.period = proto(period)
                    $0.timeZone = zone == .user ? .userTimeZone : .tenantTimeZone
                }
            }
        }
    }

    static func proto(_ kind: ResponseKind) -> Segmentd_V1_ResponseKind {
        switch kind {
        case .received: .received
        case .opened: .opened
        case .clicked: .clicked
        case .converted: .converted
        }
    }

    static func proto(_ function: AggregateFunction) -> Segmentd_V1_AggregateFunction {
        switch function {
        case .sum: .sum
        case .avg: .avg
        case .min: .min
        case .max: .max
        }
    }

    static func proto(_ period: CalendarPeriod) -> Segmentd_V1_CalendarPeriod {
        switch period {
        case .today: .today
        case .yesterday: .yesterday
        case .thisWeek: .thisWeek
        case .lastWeek: .lastWeek
        case .thisMonth: .thisMonth
        case .lastMonth: .lastMonth
        }
    }

    static func proto(_ unit: TimeUnit) -> Segmentd_V1_TimeUnit {
        switch unit {
        case .minutes: .minutes
        case .hours: .hours
        case .days: .days
        case .weeks: .weeks
        }
    }

    static func proto(_ relative: RelativeTime) -> Segmentd_V1_RelativeTime {
        .with {
            $0.amount = relative.amount
            $0.unit = proto(relative.unit)
        }
    }

    static func proto(_ comparison: Comparison) -> Segmentd_V1_NumberComparison {
        .with {
            switch comparison {
            case .equal(let value):
                $0.op = .equal
                $0.value = value
            case .notEqual(let value):
                $0.op = .notEqual
                $0.value = value
            case .less(let value):
                $0.op = .less
                $0.value = value
            case .lessOrEqual(let value):
                $0.op = .lessOrEqual
                $0.value = value
            case .greater(let value):
                $0.op = .greater
                $0.value = value
            case .greaterOrEqual(let value):
                $0.op = .greaterOrEqual
                $0.value = value
            case .between(let low, let high):
                $0.op = .between
                $0.value = low
                $0.upper = high
            }
        }
    }

    static func proto(_ literal: Literal) -> Segmentd_V1_Value {
        .with {
            switch literal {
            case .string(let text): $0.stringValue = text
            case .number(let number): $0.numberValue = number
            case .bool(let flag): $0.boolValue = flag
            case .time(let date): $0.timestampValue = .init(date: date)
            }
        }
    }

    static func proto(_ test: ValueTest) -> Segmentd_V1_ValueTest {
        .with {
            func strings(_ values: [String]) -> [Segmentd_V1_Value] { values.map { text in .with { $0.stringValue = text } } }
            switch test {
            case .equals(let value):
                $0.op = .equals
                $0.value = proto(value)
            case .notEquals(let value):
                $0.op = .notEquals
                $0.value = proto(value)
            case .isIn(let values):
                $0.op = .in
                $0.values = values.map(proto)
            case .notIn(let values):
                $0.op = .notIn
                $0.values = values.map(proto)
            case .contains(let value):
                $0.op = .contains
                $0.value = proto(value)
            case .startsWith(let text):
                $0.op = .startsWith
                $0.value = proto(.string(text))
            case .endsWith(let text):
                $0.op = .endsWith
                $0.value = proto(.string(text))
            case .exists: $0.op = .exists
            case .notSet: $0.op = .notSet
            case .less(let value):
                $0.op = .lessThan
                $0.value = proto(value)
            case .lessOrEqual(let value):
                $0.op = .atMost
                $0.value = proto(value)
            case .greater(let value):
                $0.op = .greaterThan
                $0.value = proto(value)
            case .greaterOrEqual(let value):
                $0.op = .atLeast
                $0.value = proto(value)
            case .between(let low, let high):
                $0.op = .inRange
                $0.value = proto(low)
                $0.upper = proto(high)
            case .containsAny(let values):
                $0.op = .containsAny
                $0.values = strings(values)
            case .containsAll(let values):
                $0.op = .containsAll
                $0.values = strings(values)
            case .moreThanAgo(let relative):
                $0.op = .moreThanAgo
                $0.relative = proto(relative)
            case .lessThanAgo(let relative):
                $0.op = .lessThanAgo
                $0.relative = proto(relative)
            }
        }
    }
}
