import Logging
import PostgresNIO
import SegmentDomain

/// Orders membership writers against erasure without a foreign key from every
/// member row to its user.
///
/// The key cost a query and a lock on the user's row for every member written
/// (a write and a WAL record each; about a third of writing a new segment,
/// benchmarks/engine-profile.md). Instead, every transaction that inserts member
/// rows takes a per-tenant advisory lock *shared* as its first statement, before
/// any segment row, and an erasure takes it *exclusive* before anything else. An
/// erasure therefore waits for the writers in flight (and then deletes what they
/// wrote), and the writers after it wait for it and then no longer see the user:
/// their inserts keep only users that exist (an engine state may have been read
/// before the transaction began). Neither side holds a row lock while it waits
/// for the advisory lock, so the two cannot deadlock.
enum MembershipWriteLock {
    /// The tenant's lock key: a hash of a name no other advisory lock uses.
    private static func key(_ tenant: TenantID) -> String { "segmentd.membership_writes:\(tenant.rawValue)" }

    /// Taken by a transaction that will insert member rows, before it locks any segment.
    static func shared(_ tenant: TenantID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock_shared(hashtextextended(\(key(tenant)), 0))", logger: logger)
    }

    /// Taken by an erasure before anything else.
    static func exclusive(_ tenant: TenantID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(key(tenant)), 0))", logger: logger)
    }

    /// A filter for rows about to be inserted with a user index in `column`: only users that exist.
    static func existingUser(_ column: String, tenant: String) -> String {
        "EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = \(tenant) AND u.user_index = \(column))"
    }
}
