import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentRules

/// Evaluates rules against a tenant's data: the catalog and context they are
/// compiled with, member sets through the SQL compiler, and one user's facts
/// for the single-user evaluator.
public struct RuleStore: Sendable {
    let database: Database
    /// Longest a member query may run before it is cancelled.
    public let evaluationTimeout: Duration

    public init(database: Database, evaluationTimeout: Duration = .seconds(30)) {
        self.database = database
        self.evaluationTimeout = evaluationTimeout
    }

    /// The tenant's catalog: attribute and property types, event, tag, campaign and segment names.
    public func catalog(tenant: TenantID) async throws -> RuleCatalog {
        try await database.withTenant(tenant) { connection in
            try await Self.catalog(on: connection, logger: database.logger)
        }
    }

    static func catalog(on connection: PostgresConnection, logger: Logger) async throws -> RuleCatalog {
        var catalog = RuleCatalog(segments: [])
        for try await (name, type) in try await connection.query(
            "SELECT attribute, value_type FROM catalog_attributes", logger: logger
        ).decode((String, String).self) {
            catalog.attributes[name] = ValueType(rawValue: type)
        }
        for (name, type) in IngestLimits.reservedAttributes where catalog.attributes[name] == nil {
            catalog.attributes[name] = ValueType(rawValue: type.rawValue)
        }
        for try await (event, property, type) in try await connection.query(
            "SELECT event_name, property, value_type FROM catalog_event_properties", logger: logger
        ).decode((String, String, String).self) {
            catalog.properties[event, default: [:]][property] = ValueType(rawValue: type)
        }
        for try await name in try await connection.query("SELECT event_name FROM catalog_event_types", logger: logger).decode(String.self) {
            catalog.events.insert(name)
        }
        for try await name in try await connection.query("SELECT tag_id FROM tags", logger: logger).decode(String.self) {
            catalog.tags.insert(name)
        }
        for try await name in try await connection.query("SELECT campaign_id FROM campaigns", logger: logger).decode(String.self) {
            catalog.campaigns.insert(name)
        }
        // One index probe per segment, not a scan of every membership row.
        for try await (name, populated) in try await connection.query(
            """
            SELECT s.segment_id,
                   EXISTS (SELECT 1 FROM segment_members m WHERE m.tenant_id = s.tenant_id AND m.segment_id = s.segment_id)
            FROM segments s WHERE s.deleted_at IS NULL
            """, logger: logger
        ).decode((String, Bool).self) {
            catalog.segments?.insert(name)
            if populated { catalog.segmentsWithMembers.insert(name) }
        }
        return catalog
    }

    /// The tenant's time zone as configured (an IANA name).
    public func tenantTimeZoneName(tenant: TenantID) async throws -> String {
        try await database.withTenant(tenant) { connection in
            var name = "UTC"
            for try await zone in try await connection.query(
                "SELECT time_zone FROM tenants WHERE tenant_id = \(tenant.rawValue)", logger: database.logger
            ).decode(String.self) { name = zone }
            return name
        }
    }

    /// The evaluation context at `now`: the tenant's time zone and last campaign.
    public func context(tenant: TenantID, now: Date) async throws -> EvaluationContext {
        try await database.withTenant(tenant) { connection in
            try await Self.context(tenant: tenant, now: now, on: connection, logger: database.logger)
        }
    }

    static func context(tenant: TenantID, now: Date, on connection: PostgresConnection, logger: Logger) async throws -> EvaluationContext {
        var zone = TimeZone(identifier: "UTC")!
        for try await name in try await connection.query(
            "SELECT time_zone FROM tenants WHERE tenant_id = \(tenant.rawValue)", logger: logger
        ).decode(String.self) {
            zone = TimeZone(identifier: name) ?? zone
        }
        var last: String?
        for try await id in try await connection.query(
            """
            SELECT campaign_id FROM campaigns WHERE first_send_at IS NOT NULL
            ORDER BY first_send_at DESC, campaign_id DESC LIMIT 1
            """, logger: logger
        ).decode(String.self) {
            last = id
        }
        return EvaluationContext(now: now, tenantTimeZone: zone, lastCampaign: last)
    }

    /// Evaluates `rule` at `now` without saving anything.
    public func preview(_ rule: Rule, tenant: TenantID, now: Date, sample: Int) async throws -> RulePreview {
        try await database.withTenant(tenant) { connection in
            let logger = database.logger
            let catalog = try await Self.catalog(on: connection, logger: logger)
            let context = try await Self.context(tenant: tenant, now: now, on: connection, logger: logger)
            let compiled = RuleSQLCompiler.compile(rule, tenant: tenant.rawValue, catalog: catalog, context: context)
            try await limitTime(on: connection)
            let sql = """
                WITH members AS (\(compiled.sql))
                SELECT (SELECT count(*) FROM members)::int8,
                       array(SELECT u.external_id FROM members m JOIN users u ON u.tenant_id = $1 AND u.user_index = m.user_index
                             ORDER BY m.user_index LIMIT \(max(0, min(sample, 1000))))
                """
            var result = RulePreview(count: 0, sample: [], context: context)
            for try await (count, ids) in try await run(sql, compiled.parameters, on: connection).decode((Int64, [String]).self) {
                result = RulePreview(count: count, sample: ids, context: context)
            }
            return result
        }
    }

    /// The user indexes of every member of `rule` at `now`, sorted.
    public func memberIndexes(_ rule: Rule, tenant: TenantID, context: EvaluationContext? = nil, now: Date) async throws -> [Int64] {
        try await database.withTenant(tenant) { connection in
            let logger = database.logger
            let catalog = try await Self.catalog(on: connection, logger: logger)
            let evaluation: EvaluationContext
            if let context {
                evaluation = context
            } else {
                evaluation = try await Self.context(tenant: tenant, now: now, on: connection, logger: logger)
            }
            let compiled = RuleSQLCompiler.compile(rule, tenant: tenant.rawValue, catalog: catalog, context: evaluation)
            try await limitTime(on: connection)
            var indexes: [Int64] = []
            for try await index in try await run("SELECT user_index FROM (\(compiled.sql)) m ORDER BY 1", compiled.parameters, on: connection).decode(
                Int64.self)
            {
                indexes.append(index)
            }
            return indexes
        }
    }

    /// The compiled query's EXPLAIN output (for plan tests and operators). With
    /// `withoutSequentialScans`, the plan shows whether an index can serve each part.
    public func plan(_ rule: Rule, tenant: TenantID, now: Date, withoutSequentialScans: Bool = false) async throws -> String {
        try await database.withTenant(tenant) { connection in
            let logger = database.logger
            let catalog = try await Self.catalog(on: connection, logger: logger)
            let context = try await Self.context(tenant: tenant, now: now, on: connection, logger: logger)
            let compiled = RuleSQLCompiler.compile(rule, tenant: tenant.rawValue, catalog: catalog, context: context)
            if withoutSequentialScans { try await connection.query("SET LOCAL enable_seqscan = off", logger: logger) }
            var lines: [String] = []
            for try await line in try await run("EXPLAIN " + compiled.sql, compiled.parameters, on: connection).decode(String.self) {
                lines.append(line)
            }
            return lines.joined(separator: "\n")
        }
    }

    func limitTime(on connection: PostgresConnection) async throws {
        try await Self.limitTime(evaluationTimeout, on: connection, logger: database.logger)
    }

    /// Bounds the transaction's statements to `timeout` (a rule too expensive fails instead of running on).
    static func limitTime(_ timeout: Duration, on connection: PostgresConnection, logger: Logger) async throws {
        let milliseconds = max(1, Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(milliseconds)"), logger: logger)
    }

    /// The longest a rule evaluation may run.
    public var timeout: Duration { evaluationTimeout }

    func run(_ sql: String, _ parameters: [SQLParameter], on connection: PostgresConnection) async throws -> PostgresRowSequence {
        try await connection.query(PostgresQuery(unsafeSQL: sql, binds: Self.bindings(parameters)), logger: database.logger)
    }

    /// The compiled rule's parameters as PostgreSQL bindings.
    static func bindings(_ parameters: [SQLParameter]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: parameters.count)
        for parameter in parameters {
            switch parameter {
            case .text(let value): bindings.append(value)
            case .float8(let value): bindings.append(value)
            case .bool(let value): bindings.append(value)
            case .timestamptz(let value): bindings.append(value)
            case .textArray(let value): bindings.append(value)
            case .float8Array(let value): bindings.append(value)
            case .boolArray(let value): bindings.append(value)
            case .timestamptzArray(let value): bindings.append(value)
            }
        }
        return bindings
    }
}
