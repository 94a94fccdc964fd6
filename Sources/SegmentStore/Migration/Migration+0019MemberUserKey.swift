import SegmentDomain

extension Migration {
    /// Drops the foreign key from a member row to its user: checking it queried and
    /// locked the user's row for every member written, a third of writing a new
    /// segment (60 new segments at 100k users: 26.8 s with it, 17.2 s without;
    /// benchmarks/engine-profile.md). What it guarded — no member row of an erased
    /// user, even when a refresh races the erasure — is kept by
    /// ``MembershipWriteLock``: writers take a per-tenant advisory lock shared and
    /// insert only users that exist, erasure takes it exclusive.
    static let memberUserKey = Migration(
        version: 19, name: "member_user_key",
        sql: #"""
            ALTER TABLE segment_members DROP CONSTRAINT IF EXISTS segment_members_tenant_id_user_index_fkey;
            """#)
}
