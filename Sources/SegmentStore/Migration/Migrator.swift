import Logging
import PostgresNIO
import SegmentDomain

/// Applies pending migrations as the owner role, under an advisory lock so that
/// several replicas starting at once apply each migration exactly once.
public struct Migrator: Sendable {
    /// Arbitrary, fixed: the advisory lock key all segmentd processes agree on.
    static let advisoryLockKey: Int64 = 0x5345_474D_4947  // "SEGMIG"

    let owner: DatabaseSettings
    let appRole: String
    let migrations: [Migration]
    let logger: Logger

    /// - Parameters:
    ///   - owner: Connection settings of the role that owns the schema.
    ///   - appRole: The server's role, granted what it needs and nothing more.
    ///   - migrations: The migrations (``Migrations/all`` outside tests).
    public init(owner: DatabaseSettings, appRole: String, migrations: [Migration] = Migrations.all, logger: Logger) {
        self.owner = owner
        self.appRole = appRole
        self.migrations = migrations
        self.logger = logger
    }

    /// Applies what is pending; returns the versions applied now.
    @discardableResult
    public func migrate() async throws -> [Int] {
        try await owner.withSingleConnection(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.advisoryLockKey))", logger: logger)
            do {
                let applied = try await self.applyPending(on: connection)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                throw error
            }
        }
    }

    private func applyPending(on connection: PostgresConnection) async throws -> [Int] {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    int PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        var done: [Int: String] = [:]
        for try await (version, checksum) in try await connection.query(
            "SELECT version, checksum FROM schema_migrations", logger: logger
        ).decode((Int, String).self) {
            done[version] = checksum
        }
        var applied: [Int] = []
        for migration in migrations.sorted(by: { $0.version < $1.version }) {
            if let checksum = done[migration.version] {
                guard checksum == migration.checksum else {
                    throw DomainError(
                        .misconfigured,
                        "migration \(migration.version) (\(migration.name)) was changed after it was applied")
                }
                continue
            }
            logger.info("applying migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            try await connection.withTransaction(logger: logger) { connection in
                for statement in migration.statements(appRole: appRole) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    """
                    INSERT INTO schema_migrations (version, name, checksum)
                    VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                    """, logger: logger)
            }
            applied.append(migration.version)
        }
        if let latest = migrations.map(\.version).max(), let known = done.keys.max(), known > latest {
            throw DomainError(
                .misconfigured, "the database is at migration \(known), newer than this segmentd knows (\(latest))")
        }
        return applied
    }

    /// The latest migration this binary knows.
    public var latestVersion: Int { migrations.map(\.version).max() ?? 0 }
}

extension DatabaseSettings {
    /// Runs `body` with one connection from a short-lived pool of one.
    public func withSingleConnection<Result: Sendable>(
        logger: Logger,
        _ body: @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        var settings = self
        settings.maximumConnections = 1
        // The pool warns when leased before run() has started; here that race is harmless.
        var quiet = logger
        quiet.logLevel = .error
        let client = PostgresClient(configuration: settings.clientConfiguration(), backgroundLogger: quiet)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            do {
                return try await client.withConnection { connection in try await body(connection) }
            } catch let error as PSQLError {
                throw DomainError.translating(error)
            }
        }
    }
}
