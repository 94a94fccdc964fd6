import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentRules

/// Catalog entries of the tenant's data.
public struct CatalogStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    static func after(_ token: String?) throws -> String? {
        try token.map { token in
            guard let parts = PageToken.decode(token), parts.count == 1 else { throw DomainError.invalid("page_token", "not a token from this list") }
            return parts[0]
        }
    }

    public func eventTypes(tenant: TenantID, pageSize: Int, pageToken: String?) async throws -> ([CatalogEventType], String?) {
        let after = try Self.after(pageToken)
        let types = try await database.withTenant(tenant) { connection -> [CatalogEventType] in
            var rows: [(String, Int64, Date, Date)] = []
            for try await row in try await connection.query(
                """
                SELECT event_name, count, first_seen, last_seen FROM catalog_event_types
                WHERE (\(after)::text IS NULL OR event_name > \(after)) ORDER BY event_name LIMIT \(pageSize + 1)
                """, logger: database.logger
            ).decode((String, Int64, Date, Date).self) { rows.append(row) }
            var properties: [String: [(key: String, type: ValueType)]] = [:]
            for try await (event, key, type) in try await connection.query(
                "SELECT event_name, property, value_type FROM catalog_event_properties WHERE event_name = ANY(\(rows.map(\.0))) ORDER BY 1, 2",
                logger: database.logger
            ).decode((String, String, String).self) {
                properties[event, default: []].append((key, ValueType(rawValue: type) ?? .string))
            }
            return rows.map { CatalogEventType(name: $0.0, count: $0.1, firstSeen: $0.2, lastSeen: $0.3, properties: properties[$0.0] ?? []) }
        }
        return types.paged(pageSize: pageSize) { PageToken.encode([$0.name]) }
    }

    public func attributes(tenant: TenantID, pageSize: Int, pageToken: String?) async throws -> ([CatalogAttribute], String?) {
        let after = try Self.after(pageToken)
        let attributes = try await database.withTenant(tenant) { connection -> [CatalogAttribute] in
            var rows: [CatalogAttribute] = []
            for try await (key, type, count, first, last) in try await connection.query(
                """
                SELECT attribute, value_type, count, first_seen, last_seen FROM catalog_attributes
                WHERE (\(after)::text IS NULL OR attribute > \(after)) ORDER BY attribute LIMIT \(pageSize + 1)
                """, logger: database.logger
            ).decode((String, String, Int64, Date, Date).self) {
                rows.append(CatalogAttribute(key: key, type: ValueType(rawValue: type) ?? .string, count: count, firstSeen: first, lastSeen: last))
            }
            return rows
        }
        return attributes.paged(pageSize: pageSize) { PageToken.encode([$0.key]) }
    }

    public func campaigns(tenant: TenantID, pageSize: Int, pageToken: String?) async throws -> ([CatalogCampaign], String?) {
        let offset = try Self.after(pageToken).flatMap(Int.init) ?? 0
        let campaigns = try await database.withTenant(tenant) { connection -> [CatalogCampaign] in
            var rows: [CatalogCampaign] = []
            for try await row in try await connection.query(
                """
                SELECT campaign_id, first_send_at, last_seen_at, received, opened, clicked, converted FROM campaigns
                ORDER BY first_send_at DESC NULLS LAST, campaign_id OFFSET \(offset) LIMIT \(pageSize + 1)
                """, logger: database.logger)
            {
                let columns = row.makeRandomAccess()
                rows.append(
                    CatalogCampaign(
                        id: try columns[0].decode(String.self), firstSend: try columns[1].decode(Date?.self),
                        lastSeen: try columns[2].decode(Date.self),
                        counts: [
                            "received": try columns[3].decode(Int64.self), "opened": try columns[4].decode(Int64.self),
                            "clicked": try columns[5].decode(Int64.self), "converted": try columns[6].decode(Int64.self),
                        ]))
            }
            return rows
        }
        let page = Array(campaigns.prefix(pageSize))
        return (page, campaigns.count > pageSize ? PageToken.encode([String(offset + pageSize)]) : nil)
    }
}
