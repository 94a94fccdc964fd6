import SegmentDomain

extension Migration {
    /// Two foreign keys that cost a query per member row written and guarded
    /// nothing else does not: a new segment of 110k members spent ~0.25 s on
    /// `segment_members → tenants` and ~0.5 s on `segment_changes → segments`
    /// (benchmarks/engine-profile.md).
    ///
    /// - A member row's tenant is the row-level-security tenant of the
    ///   transaction that writes it (`WITH CHECK`), and tenants are never deleted.
    /// - A segment's changes were deleted by cascade when a purge deleted the
    ///   segment; the purge now deletes them itself, after the segment row (whose
    ///   lock a writer holds until it commits, so no change is left behind).
    ///
    /// The key from a member to its user stays: a refresh racing an erasure must
    /// not leave a member row of a deleted user.
    static let membershipWriteKeys = Migration(
        version: 16, name: "membership_write_keys",
        sql: #"""
            ALTER TABLE segment_members DROP CONSTRAINT IF EXISTS segment_members_tenant_id_fkey;
            ALTER TABLE segment_changes DROP CONSTRAINT IF EXISTS segment_changes_tenant_id_segment_id_fkey;
            """#)
}
