import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentStore
import SegmentdTestSupport
import Testing

@Suite("Tenant isolation enforced in PostgreSQL", .timeLimit(.minutes(5)))
struct IsolationTests {
    let logger = Logger(label: "test.isolation")

    /// Global tables: not tenant data, unreachable by the server role except as noted.
    static let globalTables: [String: String] = [
        "schema_migrations": "migration bookkeeping; the server role has no privileges",
        "installation": "one row marking the bootstrap; no tenant data",
        "api_key_lookup": "key hash to tenant; the server role has no privileges, only resolve_api_key() reads it",
    ]

    @Test("every tenant table has RLS enabled and forced with a policy on app.tenant_id, and tenant_id leads every key")
    func catalog() async throws {
        let database = try await TestDatabase.create()
        try await Migrator(owner: database.owner, appRole: TestDatabase.appRole, logger: logger).migrate()
        try await database.superuser.withSingleConnection(logger: logger) { connection in
            var tables: [(String, Bool, Bool)] = []
            for try await row in try await connection.query(
                """
                SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c
                WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1
                """, logger: logger
            ).decode((String, Bool, Bool).self) { tables.append(row) }
            #expect(tables.count >= 7)
            for (table, enabled, forced) in tables where Self.globalTables[table] == nil {
                #expect(enabled && forced, "\(table): row-level security must be enabled and forced")
                var policies: [String] = []
                for try await (qual, check) in try await connection.query(
                    "SELECT coalesce(qual, ''), coalesce(with_check, '') FROM pg_policies WHERE tablename = \(table)", logger: logger
                ).decode((String, String).self) { policies.append(qual + " " + check) }
                #expect(!policies.isEmpty, "\(table) has no policy")
                #expect(policies.allSatisfy { $0.contains("app.tenant_id") }, "\(table): \(policies)")

                var keys: [(String, String, String)] = []
                for try await row in try await connection.query(
                    """
                    SELECT con.conname::text, con.contype::text, a.attname::text
                    FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
                    WHERE c.relname = \(table) AND con.contype IN ('p', 'u', 'f')
                    """, logger: logger
                ).decode((String, String, String).self) { keys.append(row) }
                #expect(keys.contains { $0.1 == "p" }, "\(table) has no primary key")
                for (name, _, firstColumn) in keys {
                    #expect(firstColumn == "tenant_id", "\(table).\(name) starts with \(firstColumn), not tenant_id")
                }
            }
            // The server role can touch no global table directly.
            for table in Self.globalTables.keys where table != "installation" {
                for try await allowed in try await connection.query(
                    "SELECT has_table_privilege(\(TestDatabase.appRole), \(table), 'SELECT')", logger: logger
                ).decode(Bool.self) {
                    #expect(!allowed, "the server role can read \(table)")
                }
            }
        }
    }

    @Test("realtime_leases and real-time segments: a tenant sees only its own; the job worker reads every tenant's, and changes none")
    func realtimeLeases() async throws {
        let database = try await TestDatabase.create()
        try await Migrator(owner: database.owner, appRole: TestDatabase.appRole, logger: logger).migrate()
        let pool = Database(settings: database.app, logger: logger)
        let logger = self.logger
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await pool.run() }
            defer { group.cancelAll() }
            let a = TenantID("tenant-a")!
            let b = TenantID("tenant-b")!
            _ = try await Bootstrapper(database: pool, logger: logger).bootstrapIfNeeded(tenantID: a, displayName: "A")
            try await pool.withTenant(.platform) { connection in
                try await connection.query("INSERT INTO tenants (tenant_id, display_name) VALUES ('tenant-b', 'B')", logger: logger)
            }
            for tenant in [a, b] {
                try await pool.withTenant(tenant) { connection in
                    try await connection.query(
                        """
                        INSERT INTO realtime_leases (tenant_id, owner, epoch, expires_at, acquired_at)
                        VALUES (\(tenant.rawValue), 'replica-1', 1, now() + interval '1 minute', now())
                        """, logger: logger)
                    try await connection.query(
                        """
                        INSERT INTO segments (tenant_id, segment_id, display_name, kind, rule_text, schedule, creator, real_time)
                        VALUES (\(tenant.rawValue), 'vips_now', 'VIPs', 'rule_based', 'has tag vip', '{}'::jsonb, 'test', true)
                        """, logger: logger)
                }
            }
            func count(_ sql: String, _ connection: PostgresConnection) async throws -> Int {
                try await MigrationTests.count(sql, connection)
            }
            let ownOnly = try await pool.withTenant(a) { connection in
                try await count("SELECT (SELECT count(*) FROM realtime_leases)::int * 10 + (SELECT count(*) FROM segments)::int", connection)
            }
            #expect(ownOnly == 11)
            // Another tenant's lease can be neither written nor taken over.
            await #expect(throws: (any Error).self) {
                try await pool.withTenant(a) { connection in
                    try await connection.query(
                        "INSERT INTO realtime_leases VALUES ('tenant-b', 'evil', 2, now(), now())", logger: logger)
                }
            }
            let worker = try await pool.asJobWorker { connection in
                try await count(
                    """
                    SELECT (SELECT count(*) FROM realtime_leases)::int * 10
                         + (SELECT count(*) FROM segments WHERE real_time AND deleted_at IS NULL)::int
                    """, connection)
            }
            #expect(worker == 22)
            let changed = try await pool.asJobWorker { connection in
                try await count(
                    """
                    WITH l AS (UPDATE realtime_leases SET owner = 'worker' RETURNING 1),
                         s AS (UPDATE segments SET real_time = false RETURNING 1)
                    SELECT ((SELECT count(*) FROM l) + (SELECT count(*) FROM s))::int
                    """, connection)
            }
            #expect(changed == 0)
            let unscoped = try await pool.withTransaction { connection in
                try await count("SELECT ((SELECT count(*) FROM realtime_leases) + (SELECT count(*) FROM segments))::int", connection)
            }
            #expect(unscoped == 0)
        }
    }

    @Test("with a pool of one connection, tenant B never sees tenant A's rows, even after A's transaction fails")
    func poolOfOne() async throws {
        let database = try await TestDatabase.create()
        try await Migrator(owner: database.owner, appRole: TestDatabase.appRole, logger: logger).migrate()
        var settings = database.app
        settings.maximumConnections = 1
        let pool = Database(settings: settings, logger: logger)
        let logger = self.logger
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await pool.run() }
            defer { group.cancelAll() }
            _ = try await Bootstrapper(database: pool, logger: logger).bootstrapIfNeeded(tenantID: TenantID("tenant-a")!, displayName: "A")
            let b = TenantID("tenant-b")!
            try await pool.withTenant(.platform) { connection in
                try await connection.query("INSERT INTO tenants (tenant_id, display_name) VALUES ('tenant-b', 'B')", logger: logger)
            }
            // A's transaction fails half-way.
            await #expect(throws: (any Error).self) {
                try await pool.withTenant(TenantID("tenant-a")!) { connection in
                    try await connection.query("SELECT count(*) FROM api_keys", logger: logger)
                    try await connection.query("SELECT 1/0", logger: logger)
                }
            }
            let seenByB = try await pool.withTenant(b) { connection in
                var count = 0
                for try await value in try await connection.query(
                    "SELECT (SELECT count(*) FROM api_keys)::int + (SELECT count(*) FROM tenants WHERE tenant_id <> 'tenant-b')::int",
                    logger: logger
                ).decode(Int.self) { count = value }
                return count
            }
            #expect(seenByB == 0)
            // No setting survives a transaction on the pooled connection.
            let leftover = try await pool.withConnection { connection in
                var value: String?
                for try await setting in try await connection.query(
                    "SELECT current_setting('app.tenant_id', true)", logger: logger
                ).decode(String?.self) { value = setting }
                return value
            }
            #expect(leftover == nil || leftover == "")
            let unscoped = try await pool.withConnection { connection in
                var count = -1
                for try await value in try await connection.query("SELECT count(*)::int FROM api_keys", logger: logger)
                    .decode(Int.self)
                { count = value }
                return count
            }
            #expect(unscoped == 0)
        }
    }
}
