import Logging
import PostgresNIO
import SegmentDomain

/// Refuses to run the server on a database role that could bypass row-level
/// security: a superuser, a role with BYPASSRLS or CREATEROLE, one that owns
/// tables or functions in the schema (owners can alter or disable their
/// policies), or one that is a member of a role that owns them (it could
/// `SET ROLE` to it).
public enum ServerRoleCheck {
    /// Throws ``DomainError/Code/misconfigured`` with the reason when the role is unsafe.
    public static func verify(_ database: Database) async throws {
        let (role, superuser, bypass, owned, createRole, ownerMember) = try await database.withConnection { connection in
            var result: (String, Bool, Bool, Int, Bool, Bool)?
            for try await row in try await connection.query(
                """
                SELECT r.rolname::text, r.rolsuper, r.rolbypassrls,
                       (SELECT count(*)::int FROM pg_class c
                         WHERE c.relowner = r.oid AND c.relnamespace = 'public'::regnamespace)
                     + (SELECT count(*)::int FROM pg_proc p
                         WHERE p.proowner = r.oid AND p.pronamespace = 'public'::regnamespace),
                       r.rolcreaterole,
                       EXISTS (SELECT 1 FROM pg_class c
                                WHERE c.relnamespace = 'public'::regnamespace AND c.relowner <> r.oid
                                  AND pg_has_role(r.oid, c.relowner, 'MEMBER'))
                FROM pg_roles r WHERE r.rolname = current_user
                """, logger: database.logger
            ).decode((String, Bool, Bool, Int, Bool, Bool).self) {
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
                .misconfigured, "the server's database role \(role) owns \(owned) tables or functions; the owner role must own them")
        }
        if createRole {
            throw DomainError(.misconfigured, "the server's database role \(role) has CREATEROLE; remove it")
        }
        if ownerMember {
            throw DomainError(
                .misconfigured, "the server's database role \(role) is a member of the role that owns the schema; revoke that membership")
        }
    }
}
