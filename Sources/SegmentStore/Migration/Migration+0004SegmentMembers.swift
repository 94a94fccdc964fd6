import SegmentDomain

extension Migration {
    /// Segment membership, which rules reference (`in segment high_value`).
    /// Keyed by user index so member sets stay narrow and set operations fast.
    static let segmentMembers = Migration(
        version: 4, name: "segment_members",
        sql: #"""
            CREATE TABLE segment_members (
                tenant_id  text NOT NULL REFERENCES tenants (tenant_id),
                segment_id text NOT NULL,
                user_index bigint NOT NULL,
                entered_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (tenant_id, segment_id, user_index),
                FOREIGN KEY (tenant_id, user_index) REFERENCES users (tenant_id, user_index) ON DELETE CASCADE
            );
            CREATE INDEX segment_members_by_user ON segment_members (tenant_id, user_index);

            ALTER TABLE segment_members ENABLE ROW LEVEL SECURITY;
            ALTER TABLE segment_members FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON segment_members
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
            REVOKE ALL ON segment_members FROM PUBLIC;
            GRANT SELECT, INSERT, UPDATE, DELETE ON segment_members TO {{app_role}};
            """#)
}
