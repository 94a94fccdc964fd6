import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// Static labels and their assignment to users.
public struct TagStore: Sendable {
    let database: Database
    let users: UserDirectory
    /// Users at most in one assign or unassign call.
    public static let maxUsersPerAssignment = 10_000

    public init(database: Database) {
        self.database = database
        self.users = UserDirectory(database: database)
    }

    static let select = """
        SELECT t.tenant_id, t.tag_id, t.display_name, t.description,
               (SELECT count(*) FROM user_tags ut WHERE ut.tag_id = t.tag_id), t.created_at, t.etag
        FROM tags t
        """

    static func decode(_ row: PostgresRow) throws -> TagRecord {
        let (tenant, id, displayName, description, count, created, etag) =
            try row.decode((String, String, String, String, Int64, Date, Int64).self)
        return TagRecord(
            tenantID: TenantID(tenant)!, tagID: id, displayName: displayName, description: description,
            userCount: count, createdAt: created, etag: etag)
    }

    static func validate(tagID: String) throws {
        guard IngestLimits.isValidName(tagID) else {
            throw DomainError.invalid("tag_id", "1-64 of a-z, 0-9 and _, starting with a letter")
        }
    }

    public func create(tenant: TenantID, tagID: String, displayName: String, description: String, audit: AuditContext) async throws -> TagRecord {
        try Self.validate(tagID: tagID)
        guard displayName.count <= 100, description.count <= 500 else {
            throw DomainError.invalid("display_name", "at most 100 characters; description at most 500")
        }
        return try await database.audited(audit, resource: "tenants/\(tenant)/tags/\(tagID)") { connection, record in
            do {
                try await connection.query(
                    """
                    INSERT INTO tags (tenant_id, tag_id, display_name, description)
                    VALUES (\(tenant.rawValue), \(tagID), \(displayName), \(description))
                    """, logger: database.logger)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                throw DomainError(.alreadyExists, "tenants/\(tenant)/tags/\(tagID) already exists")
            }
            let tag = try await Self.fetch(tagID, tenant: tenant, on: connection, logger: database.logger)
            record.after = tag.auditFields
            return tag
        }
    }

    static func fetch(_ tagID: String, tenant: TenantID, on connection: PostgresConnection, logger: Logger) async throws -> TagRecord {
        for try await row in try await connection.query("\(unescaped: select) WHERE t.tag_id = \(tagID)", logger: logger) {
            return try decode(row)
        }
        throw DomainError(.notFound, "tenants/\(tenant)/tags/\(tagID) not found")
    }

    public func get(tenant: TenantID, tagID: String) async throws -> TagRecord {
        try await database.withTenant(tenant) { connection in
            try await Self.fetch(tagID, tenant: tenant, on: connection, logger: database.logger)
        }
    }

    public func list(tenant: TenantID, pageSize: Int, pageToken: String?) async throws -> ([TagRecord], String?) {
        let after = try pageToken.map { token -> String in
            guard let parts = PageToken.decode(token), parts.count == 1 else { throw DomainError.invalid("page_token", "not a token from this list") }
            return parts[0]
        }
        let tags = try await database.withTenant(tenant) { connection -> [TagRecord] in
            var tags: [TagRecord] = []
            for try await row in try await connection.query(
                "\(unescaped: Self.select) WHERE (\(after)::text IS NULL OR t.tag_id > \(after)) ORDER BY t.tag_id LIMIT \(pageSize + 1)",
                logger: database.logger)
            {
                tags.append(try Self.decode(row))
            }
            return tags
        }
        return tags.paged(pageSize: pageSize) { PageToken.encode([$0.tagID]) }
    }

    public func update(
        tenant: TenantID, tagID: String, displayName: String?, description: String?, etag: Int64?, audit: AuditContext
    ) async throws -> TagRecord {
        try await database.audited(audit, resource: "tenants/\(tenant)/tags/\(tagID)") { connection, record in
            let before = try await Self.fetch(tagID, tenant: tenant, on: connection, logger: database.logger)
            if let etag, etag != before.etag { throw DomainError(.conflict, "\(before.name) changed since it was read") }
            try await connection.query(
                """
                UPDATE tags SET display_name = coalesce(\(displayName), display_name),
                                description = coalesce(\(description), description), etag = etag + 1
                WHERE tag_id = \(tagID)
                """, logger: database.logger)
            let after = try await Self.fetch(tagID, tenant: tenant, on: connection, logger: database.logger)
            record.before = before.auditFields.changed(from: after.auditFields)
            record.after = after.auditFields.changed(from: before.auditFields)
            return after
        }
    }

    /// Changes a tag's id; assignments follow (ON UPDATE CASCADE).
    public func rename(tenant: TenantID, tagID: String, newTagID: String, audit: AuditContext) async throws -> TagRecord {
        try Self.validate(tagID: newTagID)
        return try await database.audited(audit, resource: "tenants/\(tenant)/tags/\(tagID)") { connection, record in
            let before = try await Self.fetch(tagID, tenant: tenant, on: connection, logger: database.logger)
            do {
                try await connection.query(
                    "UPDATE tags SET tag_id = \(newTagID), etag = etag + 1 WHERE tag_id = \(tagID)", logger: database.logger)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                throw DomainError(.alreadyExists, "tenants/\(tenant)/tags/\(newTagID) already exists")
            }
            let after = try await Self.fetch(newTagID, tenant: tenant, on: connection, logger: database.logger)
            record.before = ["tag_id": .string(before.tagID)]
            record.after = ["tag_id": .string(after.tagID)]
            return after
        }
    }

    public func delete(tenant: TenantID, tagID: String, etag: Int64?, audit: AuditContext) async throws {
        try await database.audited(audit, resource: "tenants/\(tenant)/tags/\(tagID)") { connection, record in
            let before = try await Self.fetch(tagID, tenant: tenant, on: connection, logger: database.logger)
            if let etag, etag != before.etag { throw DomainError(.conflict, "\(before.name) changed since it was read") }
            try await connection.query("DELETE FROM tags WHERE tag_id = \(tagID)", logger: database.logger)
            record.before = before.auditFields.merging(["user_count": .number(Double(before.userCount))]) { $1 }
        }
    }

    /// Gives (or takes) tags to users in one transaction; unknown users are created
    /// by assign and ignored by unassign. Returns (changed, unchanged).
    public func assign(
        tenant: TenantID, tagIDs: [String], userIDs: [String], remove: Bool, audit: AuditContext
    ) async throws -> (changed: Int, unchanged: Int) {
        guard !tagIDs.isEmpty, !userIDs.isEmpty else { throw DomainError.invalid("tags", "name at least one tag and one user") }
        guard userIDs.count <= Self.maxUsersPerAssignment else {
            throw DomainError.invalid("user_ids", "at most \(Self.maxUsersPerAssignment) per call")
        }
        for id in userIDs where id.isEmpty || id.count > 200 {
            throw DomainError.invalid("user_ids", "user ids are 1 to 200 characters")
        }
        let ids = Set(userIDs)
        let tags = Array(Set(tagIDs))
        let reservation = remove ? UserDirectory.Reservation(ids: [], indexes: []) : try await users.reserve(ids, tenant: tenant)
        return try await database.audited(audit, resource: "tenants/\(tenant)/tags") { connection, record in
            let logger = database.logger
            var existing = Set<String>()
            for try await tag in try await connection.query("SELECT tag_id FROM tags WHERE tag_id = ANY(\(tags))", logger: logger)
                .decode(String.self)
            { existing.insert(tag) }
            if let missing = tags.first(where: { !existing.contains($0) }) {
                throw DomainError(.notFound, "tenants/\(tenant)/tags/\(missing) not found")
            }
            var changed = 0
            if remove {
                for try await count in try await connection.query(
                    """
                    WITH gone AS (
                        DELETE FROM user_tags ut USING users u
                        WHERE ut.user_index = u.user_index AND u.external_id = ANY(\(Array(ids))) AND ut.tag_id = ANY(\(tags))
                        RETURNING 1)
                    SELECT count(*)::int FROM gone
                    """, logger: logger
                ).decode(Int.self) { changed = count }
            } else {
                let (indexes, _) = try await users.resolve(ids, reservation: reservation, tenant: tenant, on: connection)
                for try await count in try await connection.query(
                    """
                    WITH added AS (
                        INSERT INTO user_tags (tenant_id, tag_id, user_index)
                        SELECT \(tenant.rawValue), t, u FROM unnest(\(tags)::text[]) AS t, unnest(\(Array(indexes.values))::int8[]) AS u
                        ON CONFLICT DO NOTHING RETURNING 1)
                    SELECT count(*)::int FROM added
                    """, logger: logger
                ).decode(Int.self) { changed = count }
            }
            let total = tags.count * ids.count
            record.after = ["tags": .strings(tags.sorted()), "users": .number(Double(ids.count)), "changed": .number(Double(changed))]
            return (changed, total - changed)
        }
    }

    /// A tag's users, by external id.
    public func users(tenant: TenantID, tagID: String, pageSize: Int, pageToken: String?) async throws -> ([String], String?) {
        let after = try pageToken.map { token -> Int64 in
            guard let parts = PageToken.decode(token), parts.count == 1, let value = Int64(parts[0]) else {
                throw DomainError.invalid("page_token", "not a token from this list")
            }
            return value
        }
        let rows = try await database.withTenant(tenant) { connection -> [(Int64, String)] in
            _ = try await Self.fetch(tagID, tenant: tenant, on: connection, logger: database.logger)
            var rows: [(Int64, String)] = []
            for try await row in try await connection.query(
                """
                SELECT ut.user_index, u.external_id FROM user_tags ut JOIN users u ON u.user_index = ut.user_index
                WHERE ut.tag_id = \(tagID) AND (\(after)::int8 IS NULL OR ut.user_index > \(after))
                ORDER BY ut.user_index LIMIT \(pageSize + 1)
                """, logger: database.logger
            ).decode((Int64, String).self) { rows.append(row) }
            return rows
        }
        let (page, next) = rows.paged(pageSize: pageSize) { PageToken.encode([String($0.0)]) }
        return (page.map(\.1), next)
    }
}
