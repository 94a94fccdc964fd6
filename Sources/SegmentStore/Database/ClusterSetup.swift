import Logging
import PostgresNIO
import SegmentDomain

/// The roles and database segmentd needs in a PostgreSQL cluster, created as a
/// superuser when missing (the embedded cluster, and test clusters).
public enum ClusterSetup {
    /// Creates the owner and server roles and the database (owned by the owner role) if they do not exist.
    public static func prepare(admin: DatabaseSettings, owner: String, app: String, database: String, logger: Logger) async throws {
        try await admin.withSingleConnection(logger: logger) { connection in
            try await ensureRoles(owner: owner, app: app, on: connection)
            var exists = false
            for try await _ in try await connection.query("SELECT 1 FROM pg_database WHERE datname = \(database)", logger: logger) {
                exists = true
            }
            if !exists {
                try await connection.query(
                    PostgresQuery(unsafeSQL: "CREATE DATABASE \(quote(database)) OWNER \(quote(owner))"), logger: logger)
            }
        }
    }

    /// Creates the owner and server roles if they do not exist (as a superuser).
    public static func ensureRoles(owner: String, app: String, on connection: PostgresConnection) async throws {
        let logger = Logger(label: "segmentd.roles")
        for (role, attributes) in [(owner, "LOGIN NOSUPERUSER NOBYPASSRLS"), (app, "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")] {
            let rows = try await connection.query("SELECT 1 FROM pg_roles WHERE rolname = \(role)", logger: logger)
            var exists = false
            for try await _ in rows { exists = true }
            if !exists {
                do {
                    try await connection.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(quote(role)) \(attributes)"), logger: logger)
                } catch let error as PSQLError where ["42710", "23505"].contains(error.serverInfo?[.sqlState] ?? "") {
                    // Created concurrently by another process: fine.
                }
            }
        }
    }

    /// A quoted SQL identifier.
    static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
