import SegmentDomain

extension Migration {
    /// Who entered and who exited a segment in its last refresh (for inspect,
    /// and later the enter/exit stream). Rewritten by each refresh.
    static let segmentChanges = Migration(
        version: 6, name: "segment_changes",
        sql: #"""
            CREATE TABLE segment_changes (
                tenant_id  text NOT NULL,
                segment_id text NOT NULL,
                user_index bigint NOT NULL,
                change     text NOT NULL CHECK (change IN ('entered', 'exited')),
                job_id     bigint NOT NULL,
                PRIMARY KEY (tenant_id, segment_id, user_index),
                FOREIGN KEY (tenant_id, segment_id) REFERENCES segments (tenant_id, segment_id) ON DELETE CASCADE
            );

            ALTER TABLE segment_changes ENABLE ROW LEVEL SECURITY;
            ALTER TABLE segment_changes FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON segment_changes
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
            REVOKE ALL ON segment_changes FROM PUBLIC;
            GRANT SELECT, INSERT, UPDATE, DELETE ON segment_changes TO {{app_role}};
            """#)
}
