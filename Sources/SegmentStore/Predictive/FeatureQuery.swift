import Foundation
import PostgresNIO
import SegmentDomain

/// Builds the one SQL query that computes a `FeatureSpec`'s features for every
/// user in a predictive segment's population at a cutoff, from the per-day
/// rollups (events strictly before the cutoff day), campaign responses and
/// profiles — optionally with the label (the goal in the horizon after the
/// cutoff), a deterministic sample, or a single user. Every name and value is
/// a bound parameter.
struct FeatureQuery {
    let spec: FeatureSpec
    let settings: PredictiveSettings
    /// Start of a UTC day: features read days before it, labels the horizon from it.
    let cutoff: Date

    var bindings = PostgresBindings()

    init(spec: FeatureSpec, settings: PredictiveSettings, cutoff: Date, tenant: TenantID) {
        self.spec = spec
        self.settings = settings
        self.cutoff = cutoff
        bindings.append(tenant.rawValue)
    }

    mutating func bind(_ value: String) -> String {
        bindings.append(value)
        return "$\(bindings.count)"
    }

    mutating func bind(_ value: Int64) -> String {
        bindings.append(value)
        return "$\(bindings.count)::int8"
    }

    mutating func bind(_ value: Date) -> String {
        bindings.append(value)
        return "$\(bindings.count)::timestamptz"
    }

    static func day(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: date)
    }

    /// Who is scored: users active in the year before the cutoff; for churn,
    /// users who performed the event in the `max(30, horizon)` days before it.
    var churnActivityDays: Int { max(30, settings.horizonDays) }

    /// The query: rows of (user_index int8, features float8[], label bool).
    /// `samplePerMille` keeps about that share of users (by a hash of their index).
    mutating func sql(withLabel: Bool, samplePerMille: Int64? = nil, user: Int64? = nil) -> String {
        let cd = "\(bind(Self.day(cutoff)))::date"
        let cutoffTime = bind(cutoff)
        let goal = bind(settings.event)
        var aggregates: [String] = []
        var features: [String] = []
        for (index, event) in spec.events.enumerated() {
            let name = bind(event)
            let alias = "e\(index)"
            aggregates.append("sum(count) FILTER (WHERE event_name = \(name) AND day >= \(cd) - 7) AS \(alias)_7")
            aggregates.append("sum(count) FILTER (WHERE event_name = \(name) AND day >= \(cd) - 30) AS \(alias)_30")
            aggregates.append("sum(count) FILTER (WHERE event_name = \(name) AND day >= \(cd) - 90) AS \(alias)_90")
            aggregates.append("max(last_at) FILTER (WHERE event_name = \(name)) AS \(alias)_last")
            features.append("ln(1 + coalesce(b.\(alias)_7, 0))")
            features.append("ln(1 + coalesce(b.\(alias)_30, 0))")
            features.append("ln(1 + coalesce(b.\(alias)_90, 0))")
            features.append("least(365, coalesce(extract(epoch FROM \(cutoffTime) - b.\(alias)_last) / 86400, 365))")
            if let property = spec.monetary[event] {
                let key = bind(property)
                aggregates.append("sum((numbers -> \(key) ->> 's')::float8) FILTER (WHERE event_name = \(name) AND day >= \(cd) - 90) AS \(alias)_m")
                features.append("ln(1 + greatest(0, coalesce(b.\(alias)_m, 0)))")
            }
        }
        let churnDays = bind(Int64(churnActivityDays))
        aggregates.append("count(DISTINCT day) FILTER (WHERE day >= \(cd) - 30) AS active_30")
        aggregates.append("min(first_at) AS first_at")
        aggregates.append("sum(count) FILTER (WHERE event_name = \(goal) AND day >= \(cd) - \(churnDays)::int) AS goal_recent")
        features += [
            "ln(1 + coalesce(c.received, 0))", "ln(1 + coalesce(c.opened, 0))", "ln(1 + coalesce(c.clicked, 0))", "ln(1 + coalesce(c.converted, 0))",
        ]
        features += ["b.active_30::float8", "least(365, extract(epoch FROM \(cutoffTime) - b.first_at) / 86400)"]
        for attribute in spec.numberAttributes {
            let key = bind(attribute)
            features.append("coalesce(CASE WHEN jsonb_typeof(p.attributes -> \(key)) = 'number' THEN (p.attributes ->> \(key))::float8 END, 0)")
        }
        for attribute in spec.boolAttributes {
            let key = bind(attribute)
            features.append("CASE WHEN p.attributes -> \(key) = 'true'::jsonb THEN 1 ELSE 0 END")
        }
        for attribute in spec.timeAttributes {
            let key = bind(attribute)
            features.append(
                """
                coalesce(least(3650, greatest(-3650, extract(epoch FROM \(cutoffTime) - \
                CASE WHEN jsonb_typeof(p.attributes -> \(key)) = 'string' THEN (p.attributes ->> \(key))::timestamptz END) / 86400)), 0)
                """)
        }
        var conditions = ["true"]
        if settings.goal == .churn { conditions.append("coalesce(b.goal_recent, 0) > 0") }
        if let samplePerMille { conditions.append("(b.user_index * 2654435761) % 1000 < \(bind(samplePerMille))") }
        if let user { conditions.append("b.user_index = \(bind(user))") }
        let horizon = bind(Int64(settings.horizonDays))
        let goalInHorizon = """
            EXISTS (SELECT 1 FROM event_rollups l WHERE l.tenant_id = $1 AND l.event_name = \(goal) AND l.user_index = b.user_index
                    AND l.day >= \(cd) AND l.day < \(cd) + \(horizon)::int)
            """
        let label = !withLabel ? "false" : settings.goal == .convert ? goalInHorizon : "NOT \(goalInHorizon)"
        let userFilter = user.map { "AND user_index = \(bind($0))" } ?? ""
        return """
            WITH b AS (
                SELECT user_index, \(aggregates.joined(separator: ",\n       "))
                FROM event_rollups
                WHERE tenant_id = $1 AND day < \(cd) AND day >= \(cd) - 365 \(userFilter)
                GROUP BY user_index
            ),
            c AS (
                SELECT user_index, count(*) FILTER (WHERE kind = 'received') AS received, count(*) FILTER (WHERE kind = 'opened') AS opened,
                       count(*) FILTER (WHERE kind = 'clicked') AS clicked, count(*) FILTER (WHERE kind = 'converted') AS converted
                FROM campaign_responses
                WHERE tenant_id = $1 AND time < \(cutoffTime) AND time >= \(cutoffTime) - interval '30 days' \(userFilter)
                GROUP BY user_index
            )
            SELECT b.user_index, ARRAY[\(features.joined(separator: ",\n       "))]::float8[], \(label)
            FROM b LEFT JOIN c ON c.user_index = b.user_index
            LEFT JOIN profiles p ON p.tenant_id = $1 AND p.user_index = b.user_index
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY b.user_index
            """
    }
}
