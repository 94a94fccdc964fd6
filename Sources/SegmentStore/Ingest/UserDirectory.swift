import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// Maps the tenant's external user ids to dense per-tenant indexes, creating
/// users at first sight.
///
/// Indexes are allocated from a per-tenant counter in a short transaction of
/// their own, so concurrent batches do not queue on the counter's row lock for
/// the length of their ingest; a batch that then fails leaves a small hole.
struct UserDirectory {
    let database: Database

    /// Indexes reserved for ids that were unknown when looked up.
    struct Reservation {
        let ids: [String]
        let indexes: [Int64]
    }

    /// Looks `ids` up and reserves indexes for the unknown ones.
    func reserve(_ ids: Set<String>, tenant: TenantID) async throws -> Reservation {
        let all = ids.sorted()
        return try await database.withTenant(tenant) { connection in
            var known = Set<String>()
            for try await id in try await connection.query(
                "SELECT external_id FROM users WHERE external_id = ANY(\(all))", logger: database.logger
            ).decode(String.self) {
                known.insert(id)
            }
            let missing = all.filter { !known.contains($0) }
            guard !missing.isEmpty else { return Reservation(ids: [], indexes: []) }
            var next: Int64 = 0
            for try await value in try await connection.query(
                """
                INSERT INTO user_index_counters AS c (tenant_id, next) VALUES (\(tenant.rawValue), \(Int64(missing.count)) + 1)
                ON CONFLICT (tenant_id) DO UPDATE SET next = c.next + \(Int64(missing.count))
                RETURNING next
                """, logger: database.logger
            ).decode(Int64.self) {
                next = value
            }
            let first = next - Int64(missing.count)
            return Reservation(ids: missing, indexes: (0..<Int64(missing.count)).map { first + $0 })
        }
    }

    /// Inside the batch's transaction: creates the reserved users (another batch
    /// may have created some meanwhile) and returns every id's index and the
    /// indexes of the users this transaction created.
    func resolve(
        _ ids: Set<String>, reservation: Reservation, tenant: TenantID, on connection: PostgresConnection
    ) async throws -> (indexes: [String: Int64], created: Set<Int64>) {
        var created = Set<Int64>()
        if !reservation.ids.isEmpty {
            for try await index in try await connection.query(
                """
                INSERT INTO users (tenant_id, user_index, external_id)
                SELECT \(tenant.rawValue), u.i, u.e FROM unnest(\(reservation.indexes)::int8[], \(reservation.ids)::text[]) AS u(i, e)
                ON CONFLICT DO NOTHING
                RETURNING user_index
                """, logger: database.logger
            ).decode(Int64.self) {
                created.insert(index)
            }
        }
        var indexes: [String: Int64] = [:]
        indexes.reserveCapacity(ids.count)
        for try await (id, index) in try await connection.query(
            "SELECT external_id, user_index FROM users WHERE external_id = ANY(\(Array(ids)))", logger: database.logger
        ).decode((String, Int64).self) {
            indexes[id] = index
        }
        guard indexes.count == ids.count else {
            throw DomainError(.conflict, "a user was deleted while the batch was written; retry the batch")
        }
        return (indexes, created)
    }
}
