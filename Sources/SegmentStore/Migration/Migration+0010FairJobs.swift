import SegmentDomain

extension Migration {
    /// Workers claim jobs fairly across tenants and skip disabled tenants, so
    /// they read every tenant's state (only in the worker's transactions); and
    /// the claim's look at running jobs per tenant has an index.
    static let fairJobs = Migration(
        version: 10, name: "fair_jobs",
        sql: #"""
            CREATE POLICY worker_reads_state ON tenants FOR SELECT
                USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.job_worker', true) = 'on');
            CREATE INDEX jobs_running_by_tenant ON jobs (tenant_id, kind) WHERE state = 'running';
            CREATE INDEX jobs_export_files ON jobs (finished_at) WHERE kind = 'export' AND state = 'succeeded';
            """#)
}
