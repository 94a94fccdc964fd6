import Foundation
import Logging
import PostgresNIO
import SegmentStore
import SegmentdTestSupport
import Testing

@Suite("Migration 13: existing segments get the revision their members follow", .timeLimit(.minutes(5)))
struct FreshnessMigrationTests {
    let logger = Logger(label: "test.migrations")

    @Test("the backfill takes the newest revision at the last refresh, and the last revision that changed the rule")
    func backfill() async throws {
        let database = try await TestDatabase.create()
        let before = Migrations.all.filter { $0.version < 13 }
        _ = try await Migrator(owner: database.owner, appRole: TestDatabase.appRole, migrations: before, logger: logger).migrate()
        let logger = self.logger
        try await database.superuser.withSingleConnection(logger: logger) { connection in
            try await connection.query("INSERT INTO tenants (tenant_id, display_name) VALUES ('acme', 'Acme')", logger: logger)
            // never: no refresh; renamed: refreshed after a new name; stale: a new rule after the refresh.
            for (id, revision) in [("never", 1), ("renamed", 2), ("stale", 2)] {
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            INSERT INTO segments (tenant_id, segment_id, display_name, kind, rule_text, schedule, creator, revision)
                            VALUES ('acme', '\(id)', '\(id)', 'rule_based', 'did purchase', '{"cadence":"manual"}', 'test', \(revision))
                            """), logger: logger)
            }
            try await connection.query(
                """
                INSERT INTO segment_revisions (tenant_id, segment_id, revision, created_at, actor, changed_fields, snapshot) VALUES
                    ('acme', 'never', 1, '2026-12-01 10:00Z', 'test', '{display_name,rule,schedule}', '{}'),
                    ('acme', 'renamed', 1, '2026-12-01 10:00Z', 'test', '{display_name,rule,schedule}', '{}'),
                    ('acme', 'renamed', 2, '2026-12-01 11:00Z', 'test', '{display_name}', '{}'),
                    ('acme', 'stale', 1, '2026-12-01 10:00Z', 'test', '{display_name,rule,schedule}', '{}'),
                    ('acme', 'stale', 2, '2026-12-01 12:00Z', 'test', '{rule}', '{}')
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO segment_size_history (tenant_id, segment_id, time, size, entered, exited, duration_ms) VALUES
                    ('acme', 'renamed', '2026-12-01 10:30Z', 5, 5, 0, 1), ('acme', 'renamed', '2026-12-01 11:30Z', 6, 1, 0, 1),
                    ('acme', 'stale', '2026-12-01 11:00Z', 5, 5, 0, 1)
                """, logger: logger)
        }
        #expect(
            try await Migrator(owner: database.owner, appRole: TestDatabase.appRole, logger: logger).migrate() == Array(13...Migrations.all.count))
        let rows = try await database.superuser.withSingleConnection(logger: logger) { connection in
            var rows: [String] = []
            for try await (id, refreshed, definition) in try await connection.query(
                "SELECT segment_id, refreshed_revision, definition_revision FROM segments ORDER BY 1", logger: logger
            ).decode((String, Int64?, Int64).self) {
                rows.append("\(id) \(refreshed.map(String.init) ?? "-") \(definition)")
            }
            return rows
        }
        #expect(rows == ["never - 1", "renamed 2 1", "stale 1 2"])
        // Row-level security is forced again on the tables the backfill read.
        let forced = try await database.superuser.withSingleConnection(logger: logger) { connection in
            var names: [String] = []
            for try await name in try await connection.query(
                """
                SELECT relname::text FROM pg_class
                WHERE relname IN ('segments', 'segment_revisions', 'segment_size_history') AND relforcerowsecurity ORDER BY 1
                """, logger: logger
            ).decode(String.self) { names.append(name) }
            return names
        }
        #expect(forced == ["segment_revisions", "segment_size_history", "segments"])
    }
}
