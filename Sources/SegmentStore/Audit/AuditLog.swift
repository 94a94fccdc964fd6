import Foundation
import Logging
import NIOCore
import PostgresNIO
import SegmentDomain

/// The append-only, hash-chained audit log of each tenant.
///
/// Appends happen inside the transaction of the change they record (see
/// ``Database/audited(_:resource:_:)``); a trigger assigns the gapless sequence
/// number, the time and the hash, serialized per tenant by the chain head's row lock.
public struct AuditLog: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Appends `entry` to `tenant`'s chain on `connection`, inside its transaction
    /// (whose `app.tenant_id` must be `tenant`).
    public static func append(_ entry: AuditEntry, tenant: TenantID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO audit_events (tenant_id, actor, actor_display, action, resource, result, request_id, peer,
                                      user_agent, before, after, previous_hash, hash)
            VALUES (\(tenant.rawValue), \(entry.actor.name), \(entry.actor.display), \(entry.action), \(entry.resource),
                    \(entry.result), \(entry.actor.requestID), \(entry.actor.peer), \(entry.actor.userAgent),
                    \(entry.before?.jsonText)::jsonb, \(entry.after?.jsonText)::jsonb, '\\x', '\\x')
            """, logger: logger)
    }

    /// Appends `entry` in a transaction of its own (denied and unauthenticated calls).
    public func append(_ entry: AuditEntry, tenant: TenantID) async throws {
        try await database.withTenant(tenant) { connection in
            try await Self.append(entry, tenant: tenant, on: connection, logger: database.logger)
        }
    }

    /// Lists `tenant`'s entries, newest first unless `filter.ascending`.
    public func list(
        tenant: TenantID, filter: AuditFilter, pageSize: Int, pageToken: String?
    ) async throws -> (events: [AuditEventRecord], nextPageToken: String?) {
        let after: Int64? = try pageToken.map { token in
            guard let parts = PageToken.decode(token), parts.count == 1, let sequence = Int64(parts[0]) else {
                throw DomainError.invalid("page_token", "not a token from this list")
            }
            return sequence
        }
        /// A LIKE pattern: exact, or a prefix when the filter ends in `*`.
        func pattern(_ value: String?) -> String? {
            guard let value, !value.isEmpty else { return nil }
            if value.hasSuffix("*") {
                let prefix = value.dropLast().replacingOccurrences(of: "\\", with: "\\\\")
                    .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
                return prefix + "%"
            }
            return value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_")
        }
        return try await listQuery(tenant: tenant, filter: filter, after: after, limit: pageSize + 1, pattern: pattern)
            .paged(pageSize: pageSize)
    }

    private func listQuery(
        tenant: TenantID, filter: AuditFilter, after: Int64?, limit: Int, pattern: (String?) -> String?
    ) async throws -> [AuditEventRecord] {
        let actor = filter.actor.flatMap { $0.isEmpty ? nil : $0 }
        let action = pattern(filter.action)
        let resource = pattern(filter.resource)
        let ascending = filter.ascending
        return try await database.withTenant(tenant) { connection in
            var keys: [String] = []
            if let actor { keys = try await Self.keys(matching: actor, on: connection, logger: database.logger) }
            let rows = try await connection.query(
                """
                SELECT e.sequence, e.time, e.actor, e.actor_display, e.action, e.resource, e.result, e.request_id, e.peer, e.user_agent,
                       e.before::text, e.after::text, encode(e.hash, 'hex'), encode(e.previous_hash, 'hex'), k.display_name
                FROM audit_events e
                LEFT JOIN api_keys k
                       ON e.actor LIKE 'tenants/%/apiKeys/%' AND k.tenant_id = split_part(e.actor, '/', 2)
                      AND k.key_id = split_part(e.actor, '/', 4)
                WHERE (\(actor)::text IS NULL OR e.actor = \(actor) OR e.actor = ANY(\(keys)))
                  AND (\(action)::text IS NULL OR e.action LIKE \(action))
                  AND (\(resource)::text IS NULL OR e.resource LIKE \(resource))
                  AND (\(filter.start)::timestamptz IS NULL OR e.time >= \(filter.start))
                  AND (\(filter.end)::timestamptz IS NULL OR e.time < \(filter.end))
                  AND (\(filter.afterSequence)::bigint IS NULL OR e.sequence > \(filter.afterSequence))
                  AND (\(after)::bigint IS NULL OR (\(ascending) AND e.sequence > \(after)) OR (NOT \(ascending) AND e.sequence < \(after)))
                ORDER BY CASE WHEN \(ascending) THEN e.sequence END ASC, e.sequence DESC
                LIMIT \(limit)
                """, logger: database.logger)
            var events: [AuditEventRecord] = []
            for try await row in rows {
                let (sequence, time, actorName, display, action, resource, result, requestID, peer, userAgent) =
                    try row.decode((Int64, Date, String, String, String, String, String, String, String, String).self)
                let columns = row.makeRandomAccess()
                events.append(
                    AuditEventRecord(
                        tenantID: tenant, sequence: sequence, time: time,
                        actor: AuditActor(name: actorName, display: display, requestID: requestID, peer: peer, userAgent: userAgent),
                        action: action, resource: resource, result: result,
                        before: try columns[10].decode(String?.self), after: try columns[11].decode(String?.self),
                        hash: try columns[12].decode(String.self), previousHash: try columns[13].decode(String.self),
                        actorKeyDisplayName: try columns[14].decode(String?.self)))
            }
            return events
        }
    }

    /// The actor names of the tenant's API keys that `text` names: by display name (any
    /// case), key id or display prefix. NOT_FOUND when none does and `text` is no actor
    /// name either, so a mistyped name says so instead of listing nothing.
    static func keys(matching text: String, on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        var keys: [String] = []
        for try await name in try await connection.query(
            """
            SELECT 'tenants/' || tenant_id || '/apiKeys/' || key_id FROM api_keys
            WHERE lower(display_name) = lower(\(text)) OR key_id = \(text) OR display_prefix = \(text)
            ORDER BY 1
            """, logger: logger
        ).decode(String.self) {
            keys.append(name)
        }
        if keys.isEmpty && !AuditActor.isActorName(text) {
            throw DomainError(
                .notFound,
                "no API key is named '\(text)', nor has that id or prefix (an actor is a key's name, id or prefix, tenants/…/apiKeys/…, system, anonymous or jobs/…)",
                field: "actor")
        }
        return keys
    }

    /// Recomputes `tenant`'s chain: each entry's hash from its content and the
    /// previous entry's hash, each link, and that sequence numbers have no gap.
    public func verify(tenant: TenantID) async throws -> AuditVerification {
        try await database.withTenant(tenant) { connection in
            let rows = try await connection.query(
                """
                WITH chain AS (
                    SELECT sequence, hash, previous_hash,
                           audit_event_hash(previous_hash, tenant_id, sequence, time, actor, actor_display, action,
                                            resource, result, request_id, peer, user_agent, before, after) AS recomputed,
                           lag(hash) OVER (ORDER BY sequence) AS prior_hash,
                           lag(sequence) OVER (ORDER BY sequence) AS prior_sequence
                    FROM audit_events
                ), problems AS (
                    SELECT sequence,
                           CASE
                               WHEN coalesce(prior_sequence, 0) <> sequence - 1 THEN 'gap'
                               WHEN prior_hash IS NOT NULL AND prior_hash <> previous_hash THEN 'broken link'
                               WHEN prior_hash IS NULL AND previous_hash <> '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea THEN 'broken link'
                               WHEN recomputed <> hash THEN 'hash mismatch'
                           END AS problem
                    FROM chain
                )
                SELECT (SELECT count(*) FROM audit_events)::bigint,
                       (SELECT coalesce(max(sequence), 0) FROM audit_events)::bigint,
                       (SELECT coalesce(sequence, 0) FROM audit_chain_heads)::bigint,
                       (SELECT sequence FROM problems WHERE problem IS NOT NULL ORDER BY sequence LIMIT 1),
                       (SELECT problem FROM problems WHERE problem IS NOT NULL ORDER BY sequence LIMIT 1)
                """, logger: database.logger)
            for try await (count, maxSequence, head, badSequence, problem) in rows.decode((Int64, Int64, Int64?, Int64?, String?).self) {
                let headSequence = head ?? 0
                if let badSequence, let problem {
                    return AuditVerification(ok: false, checked: count, firstBadSequence: badSequence, problem: problem, headSequence: headSequence)
                }
                if maxSequence < headSequence {
                    // Entries after the last one present were removed.
                    return AuditVerification(ok: false, checked: count, firstBadSequence: maxSequence + 1, problem: "gap", headSequence: headSequence)
                }
                return AuditVerification(ok: true, checked: count, firstBadSequence: 0, problem: "", headSequence: headSequence)
            }
            return AuditVerification(ok: true, checked: 0, firstBadSequence: 0, problem: "", headSequence: 0)
        }
    }
}

extension AuditLog {
    /// Every chain's head sequence number, by tenant (chains with no entry are left out).
    ///
    /// Row-level security shows one tenant's head at a time, so this lists the
    /// tenants in the platform context and reads each head in turn, all in one
    /// transaction on one connection: two short statements per tenant.
    public func heads() async throws -> [TenantID: Int64] {
        try await database.withTenant(.platform) { connection in
            var tenants: [String] = []
            for try await tenant in try await connection.query("SELECT tenant_id FROM tenants ORDER BY tenant_id", logger: database.logger)
                .decode(String.self)
            {
                tenants.append(tenant)
            }
            var heads: [TenantID: Int64] = [:]
            for tenant in tenants {
                guard let id = TenantID(tenant) else { continue }
                try await connection.query("SELECT set_config('app.tenant_id', \(tenant), true)", logger: database.logger)
                for try await sequence in try await connection.query("SELECT sequence FROM audit_chain_heads", logger: database.logger)
                    .decode(Int64.self)
                {
                    heads[id] = sequence
                }
            }
            return heads
        }
    }

    /// The hashes (hex) of `tenant`'s entries at `sequences`; a sequence with no entry is absent.
    public func hashes(tenant: TenantID, sequences: [Int64]) async throws -> [Int64: String] {
        guard !sequences.isEmpty else { return [:] }
        return try await database.withTenant(tenant) { connection in
            var hashes: [Int64: String] = [:]
            for try await (sequence, hash) in try await connection.query(
                "SELECT sequence, encode(hash, 'hex') FROM audit_events WHERE sequence = ANY(\(sequences))", logger: database.logger
            ).decode((Int64, String).self) {
                hashes[sequence] = hash
            }
            return hashes
        }
    }
}

extension Array {
    /// Splits a `pageSize + 1` fetch into a page and whether there is more.
    func paged<Token>(pageSize: Int, token: (Element) -> Token) -> (items: [Element], next: Token?) {
        guard count > pageSize else { return (self, nil) }
        let page = Array(prefix(pageSize))
        return (page, page.last.map(token))
    }
}

extension Array where Element == AuditEventRecord {
    func paged(pageSize: Int) -> (events: [AuditEventRecord], nextPageToken: String?) {
        let (items, next) = paged(pageSize: pageSize) { PageToken.encode([String($0.sequence)]) }
        return (items, next)
    }
}
