import SegmentDomain

extension Migration {
    /// Real-time segments: `segments.real_time` marks a rule-based segment whose
    /// membership is kept true continuously (each ingest batch re-evaluates the
    /// users it touched; window edges are followed to the instant), and
    /// `realtime_leases` holds, per tenant, which replica does that evaluation.
    ///
    /// A lease row is taken over only once it expired, and each takeover moves
    /// its epoch by one: a real-time write locks the row and checks the epoch it
    /// was computed under, so a replica that stalled past its expiry writes
    /// nothing after another took over (``RealtimeStore``). Replicas look for
    /// tenants with real-time segments, and list the leases, across tenants as
    /// the job worker (`app.job_worker`), like the refresh scheduler's claims.
    static let realtimeSegments = Migration(
        version: 18, name: "realtime_segments",
        sql: #"""
            ALTER TABLE segments ADD COLUMN real_time boolean NOT NULL DEFAULT false;
            CREATE INDEX segments_real_time ON segments (tenant_id) WHERE real_time AND deleted_at IS NULL;
            -- Replicas find the tenants with real-time segments (read across tenants as the job worker).
            CREATE POLICY worker_reads ON segments FOR SELECT
                USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.job_worker', true) = 'on');

            CREATE TABLE realtime_leases (
                tenant_id   text NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                owner       text NOT NULL,
                epoch       bigint NOT NULL,
                expires_at  timestamptz NOT NULL,
                acquired_at timestamptz NOT NULL
            );
            ALTER TABLE realtime_leases ENABLE ROW LEVEL SECURITY;
            ALTER TABLE realtime_leases FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON realtime_leases
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
            -- Replicas list every tenant's lease (who evaluates what, and until when).
            CREATE POLICY worker_reads ON realtime_leases FOR SELECT
                USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.job_worker', true) = 'on');
            REVOKE ALL ON realtime_leases FROM PUBLIC;
            GRANT SELECT, INSERT, UPDATE, DELETE ON realtime_leases TO {{app_role}};
            """#)
}
