import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentStore
import SegmentdTestSupport
import Testing

@Suite("Migrations, roles and row-level security", .timeLimit(.minutes(5)))
struct MigrationTests {
    let logger = Logger(label: "test.migrations")

    @Test("migrating an empty database applies every migration once; again applies nothing")
    func upFromEmpty() async throws {
        let database = try await TestDatabase.create()
        let migrator = Migrator(owner: database.owner, appRole: TestDatabase.appRole, logger: logger)
        #expect(try await migrator.migrate() == Migrations.all.map(\.version))
        #expect(try await migrator.migrate() == [])
        let versions = try await database.owner.withSingleConnection(logger: logger) { connection in
            var versions: [Int] = []
            for try await version in try await connection.query("SELECT version FROM schema_migrations ORDER BY 1", logger: logger)
                .decode(Int.self)
            { versions.append(version) }
            return versions
        }
        #expect(versions == Migrations.all.map(\.version))
    }

    @Test("eight migrators racing on one empty database apply each migration exactly once")
    func concurrentMigrators() async throws {
        let database = try await TestDatabase.create()
        let logger = self.logger
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await Migrator(owner: database.owner, appRole: TestDatabase.appRole, logger: logger).migrate()
                }
            }
            var all: [Int] = []
            for try await versions in group { all += versions }
            return all
        }
        #expect(applied.sorted() == Migrations.all.map(\.version))
    }

    @Test("the server refuses a role that owns the tables, and accepts the server role")
    func serverRoleCheck() async throws {
        let database = try await TestDatabase.create()
        try await Migrator(owner: database.owner, appRole: TestDatabase.appRole, logger: logger).migrate()
        try await Self.withDatabase(database.owner) { owner in
            await #expect(throws: DomainError.self) { try await ServerRoleCheck.verify(owner) }
        }
        try await Self.withDatabase(database.superuser) { superuser in
            await #expect(throws: DomainError.self) { try await ServerRoleCheck.verify(superuser) }
        }
        try await Self.withDatabase(database.app) { app in
            try await ServerRoleCheck.verify(app)
        }
        // Roles of this test only (roles are cluster-wide; the shared server role is left alone).
        let suffix = String(UUID().uuidString.prefix(8)).lowercased()
        let creator = "sgd_createrole_\(suffix)"
        let member = "sgd_member_\(suffix)"
        for statement in [
            "CREATE ROLE \(creator) LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS",
            "CREATE ROLE \(member) LOGIN NOSUPERUSER NOBYPASSRLS",
            "GRANT \(TestDatabase.ownerRole) TO \(member)",
        ] {
            try await database.superuser.withSingleConnection(logger: logger) { connection in
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
        for (role, problem) in [(creator, "CREATEROLE"), (member, "member of the role that owns the schema")] {
            var settings = database.app
            settings.username = role
            try await Self.withDatabase(settings) { unsafe in
                do {
                    try await ServerRoleCheck.verify(unsafe)
                    Issue.record("\(role) was accepted")
                } catch let error as DomainError {
                    #expect(error.code == .misconfigured && error.message.contains(problem), "\(error)")
                }
            }
        }
    }

    @Test("with no tenant set, the server role sees no tenant rows and cannot insert any")
    func noTenantSeesNothing() async throws {
        let database = try await TestDatabase.create()
        try await Migrator(owner: database.owner, appRole: TestDatabase.appRole, logger: logger).migrate()
        try await Self.withDatabase(database.app) { app in
            let credentials = try await Bootstrapper(database: app, logger: logger)
                .bootstrapIfNeeded(tenantID: TenantID("acme")!, displayName: "Acme")
            #expect(credentials != nil)
            let again = try await Bootstrapper(database: app, logger: logger)
                .bootstrapIfNeeded(tenantID: TenantID("other")!, displayName: "Other")
            #expect(again == nil)

            let unscoped = try await app.withTransaction { connection in
                try await Self.count("SELECT count(*)::int FROM tenants", connection)
            }
            #expect(unscoped == 0)
            let scoped = try await app.withTenant(TenantID("acme")!) { connection in
                try await Self.count("SELECT count(*)::int FROM tenants", connection)
            }
            #expect(scoped == 1)
            await #expect(throws: DomainError.self) {
                try await app.withTransaction { connection in
                    try await connection.query("INSERT INTO tenants (tenant_id, display_name) VALUES ('evil', 'x')", logger: logger)
                }
            }
            // The key lookup table is out of the server role's reach; only the function reads it.
            await #expect(throws: DomainError.self) {
                try await app.withTransaction { connection in
                    try await Self.count("SELECT count(*)::int FROM api_key_lookup", connection)
                }
            }
        }
    }

    static func count(_ sql: String, _ connection: PostgresConnection) async throws -> Int {
        var result = 0
        for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "count"))
            .decode(Int.self)
        { result = value }
        return result
    }

    /// Runs `body` with a running pool for `settings`.
    static func withDatabase(_ settings: DatabaseSettings, _ body: @Sendable (Database) async throws -> Void) async throws {
        let database = Database(settings: settings, logger: Logger(label: "test.pool"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.run() }
            defer { group.cancelAll() }
            try await body(database)
        }
    }
}
