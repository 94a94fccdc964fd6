import Logging
import PostgresNIO
import SegmentDomain

/// Refuses to run the server on a database role that could bypass row-level
/// security: a superuser, a role with BYPASSRLS, or one that owns tables (owners
/// can alter or disable their policies).
public enum ServerRoleCheck {
    /// Throws ``DomainError/Code/misconfigured`` with the reason when the role is unsafe.
    public static func verify(_ database: Database) async throws {
        let (role, superuser, bypass, owned) = try await database.withConnection { connection in
            var result: (String, Bool, Bool, Int)?
            for try await row in try await connection.query(
                """
                SELECT r.rolname::text, r.rolsuper, r.rolbypassrls,
                       (SELECT count(*)::int FROM pg_class c
                         WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p', 'v', 'm')
                           AND c.relnamespace = 'public'::regnamespace)
                FROM pg_roles r WHERE r.rolname = current_user
                """, logger: database.logger
            ).decode((String, Bool, Bool, Int).self) {
                result = row
            }
            guard let result else { throw DomainError(.misconfigured, "cannot read the server role") }
            return result
        }
        if superuser {
            throw DomainError(.misconfigured, "the server's database role \(role) is a superuser; use a plain role")
        }
        if bypass {
            throw DomainError(.misconfigured, "the server's database role \(role) has BYPASSRLS; remove it")
        }
        if owned > 0 {
            throw DomainError(
                .misconfigured, "the server's database role \(role) owns \(owned) tables; the owner role must own them")
        }
    }
}
