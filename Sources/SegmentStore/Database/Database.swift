import Logging
import Metrics
import PostgresNIO
import SegmentDomain
import ServiceLifecycle
import Synchronization

/// The server's connection pool, with tenant-scoped transactions.
///
/// Every tenant's data is read and written inside ``withTenant(_:_:)``, which sets
/// `app.tenant_id` for that transaction only (`set_config(…, true)`); row-level
/// security in PostgreSQL does the rest. Run it as a `Service`.
public final class Database: Service, Sendable {
    /// The underlying PostgresNIO pool.
    public let client: PostgresClient
    public let logger: Logger
    /// Member sets held in memory for membership checks (run by the gRPC server).
    public let memberSets: MemberSetCache
    private let inUse = Atomic<Int>(0)
    private let inUseGauge = Gauge(label: "segmentd_db_connections_in_use")
    private let waitTimer = Metrics.Timer(label: "segmentd_db_connection_wait_seconds")

    /// - Parameters:
    ///   - settings: Where to connect.
    ///   - logger: Logs pool events.
    ///   - memberSets: How many segment members checks may hold in memory.
    public init(settings: DatabaseSettings, logger: Logger, memberSets: MemberSetCache.Configuration = .init()) {
        self.client = PostgresClient(configuration: settings.clientConfiguration(), backgroundLogger: logger)
        self.logger = logger
        self.memberSets = MemberSetCache(configuration: memberSets)
        Gauge(label: "segmentd_db_connections_max").record(settings.maximumConnections)
    }

    public func run() async {
        await client.run()
    }

    /// Connections leased from the pool now.
    public var connectionsInUse: Int { inUse.load(ordering: .relaxed) }

    /// Runs `body` in a transaction scoped to `tenant`: row-level security shows and
    /// accepts only that tenant's rows, and the setting ends with the transaction.
    public func withTenant<Result: Sendable>(
        _ tenant: TenantID,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await withTransaction { connection in
            try await connection.query(
                "SELECT set_config('app.tenant_id', \(tenant.rawValue), true)", logger: self.logger)
            return try await body(connection)
        }
    }

    /// Runs `body` in a transaction with no tenant set: tenant tables show nothing.
    public func withTransaction<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        let start = ContinuousClock.now
        let end = TransactionEnd(memberSets: memberSets)
        defer { end.run() }
        return try await TransactionEnd.$current.withValue(end) {
            try await withConnection { connection in
                self.waitTimer.record(duration: ContinuousClock.now - start)
                do {
                    return try await connection.withTransaction(logger: self.logger) { connection in
                        try await body(connection)
                    }
                } catch let error as PostgresTransactionError {
                    if let closure = error.closureError { throw DomainError.translating(any: closure) }
                    if let begin = error.beginError { throw DomainError.translating(any: begin) }
                    if let commit = error.commitError { throw DomainError.translating(any: commit) }
                    throw DomainError(.internalError, "transaction failed", cause: error)
                } catch {
                    throw DomainError.translating(any: error)
                }
            }
        }
    }

    /// Runs `body` in a transaction as the job worker (`app.job_worker`): the
    /// policies that let background work read and tidy every tenant's rows apply.
    public func asJobWorker<Result: Sendable>(_ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        try await withTransaction { connection in
            try await connection.query("SELECT set_config('app.job_worker', 'on', true)", logger: logger)
            return try await body(connection)
        }
    }

    /// Runs `body` in a read-only REPEATABLE READ transaction scoped to the
    /// tenant: every query sees one snapshot (long streamed reads that must not
    /// see a refresh commit halfway).
    public func withTenantSnapshot<Result: Sendable>(
        _ tenant: TenantID,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await withConnection { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: self.logger)
            do {
                try await connection.query("SELECT set_config('app.tenant_id', \(tenant.rawValue), true)", logger: self.logger)
                let result = try await body(connection)
                try await connection.query("COMMIT", logger: self.logger)
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: self.logger)
                throw error
            }
        }
    }

    /// Runs `body` with a pooled connection (no transaction), counting pool use.
    public func withConnection<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        do {
            return try await client.withConnection { connection in
                self.inUseGauge.record(self.inUse.add(1, ordering: .relaxed).newValue)
                defer { self.inUseGauge.record(self.inUse.subtract(1, ordering: .relaxed).newValue) }
                return try await body(connection)
            }
        } catch {
            throw DomainError.translating(any: error)
        }
    }
}

extension DomainError {
    /// Passes store errors and cancellation through; maps PostgreSQL errors; wraps the rest.
    static func translating(any error: any Error) -> any Error {
        switch error {
        case let error as DomainError: return error
        case let error as PSQLError: return translating(error)
        case is CancellationError: return error
        default: return error
        }
    }

    /// Maps a PostgreSQL error to a store error; the SQL detail stays in `cause`.
    static func translating(_ error: PSQLError) -> DomainError {
        switch error.serverInfo?[.sqlState] {
        case "23505": return DomainError(.alreadyExists, "already exists", cause: error)
        case "23503", "23514", "22P02", "22023": return DomainError(.invalidArgument, "invalid value", cause: error)
        case "40001", "40P01": return DomainError(.conflict, "a concurrent change won; retry", cause: error)
        case "57014":
            // Only rule evaluation sets a statement timeout.
            return DomainError(.tooExpensive, "evaluating the rule ran past its time limit; narrow its windows or split it", cause: error)
        default: break
        }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed:
            return DomainError(.unavailable, "the database is unavailable", cause: error)
        default:
            return DomainError(.internalError, "database error", cause: error)
        }
    }
}
