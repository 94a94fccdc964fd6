import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentRules

/// Keeps the types of attributes and event properties: the first value seen
/// sets the type, later values must match.
enum CatalogTypes {
    /// Records first-seen types for `(scope, key)` pairs and returns the stored
    /// type of each (scope is the event name for properties, "" for attributes).
    static func settle(
        _ pairs: [(scope: String, key: String, type: ValueType)], attributes: Bool, tenant: TenantID,
        on connection: PostgresConnection, logger: Logger
    ) async throws -> [String: ValueType] {
        guard !pairs.isEmpty else { return [:] }
        let scopes = pairs.map(\.scope)
        let keys = pairs.map(\.key)
        let types = pairs.map(\.type.rawValue)
        var stored: [String: ValueType] = [:]
        if attributes {
            try await connection.query(
                """
                INSERT INTO catalog_attributes (tenant_id, attribute, value_type, first_seen, last_seen)
                SELECT \(tenant.rawValue), k, t, now(), now() FROM unnest(\(keys)::text[], \(types)::text[]) AS x(k, t)
                ON CONFLICT DO NOTHING
                """, logger: logger)
            for try await (key, type) in try await connection.query(
                "SELECT attribute, value_type FROM catalog_attributes WHERE attribute = ANY(\(keys))", logger: logger
            ).decode((String, String).self) {
                stored["\u{1F}" + key] = ValueType(rawValue: type)
            }
        } else {
            try await connection.query(
                """
                INSERT INTO catalog_event_properties (tenant_id, event_name, property, value_type)
                SELECT \(tenant.rawValue), e, k, t FROM unnest(\(scopes)::text[], \(keys)::text[], \(types)::text[]) AS x(e, k, t)
                ON CONFLICT DO NOTHING
                """, logger: logger)
            for try await (scope, key, type) in try await connection.query(
                """
                SELECT p.event_name, p.property, p.value_type FROM catalog_event_properties p
                JOIN unnest(\(scopes)::text[], \(keys)::text[]) AS x(e, k) ON p.event_name = x.e AND p.property = x.k
                """, logger: logger
            ).decode((String, String, String).self) {
                stored[scope + "\u{1F}" + key] = ValueType(rawValue: type)
            }
        }
        return stored
    }

    /// Unique `(scope, key, type)` triples of a batch, first type per key winning.
    static func pairs(_ records: [(scope: String, values: [String: RuleValue])]) -> [(scope: String, key: String, type: ValueType)] {
        var seen = Set<String>()
        var result: [(scope: String, key: String, type: ValueType)] = []
        for record in records {
            for (key, value) in record.values where seen.insert(record.scope + "\u{1F}" + key).inserted {
                result.append((record.scope, key, value.type))
            }
        }
        // A stable order, so concurrent batches lock new catalog keys in the same order.
        return result.sorted { ($0.scope, $0.key) < ($1.scope, $1.key) }
    }

    /// Violations for values whose type differs from the stored one.
    static func mismatches(
        _ records: [(scope: String, values: [String: RuleValue])], stored: [String: ValueType], field: String
    ) -> [RecordViolation] {
        var violations: [RecordViolation] = []
        for (index, record) in records.enumerated() {
            for (key, value) in record.values.sorted(by: { $0.key < $1.key }) {
                if let type = stored[record.scope + "\u{1F}" + key], type != value.type {
                    violations.append(
                        .init(
                            index: index, field: "\(field).\(key)",
                            reason: "is \(type.rawValue)\(record.scope.isEmpty ? "" : " on \(record.scope)") but this value is \(value.type.rawValue)"
                        ))
                }
            }
        }
        return violations
    }
}
