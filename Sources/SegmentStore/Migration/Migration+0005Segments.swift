import SegmentDomain

extension Migration {
    /// Segments with their revisions and size history, and the job queue that
    /// refreshes, exports and syncs them (rows claimed with SKIP LOCKED, after
    /// riverqueue/river).
    static let segments = Migration(
        version: 5, name: "segments_and_jobs",
        sql: #"""
            CREATE TABLE segments (
                tenant_id            text NOT NULL REFERENCES tenants (tenant_id),
                segment_id           text NOT NULL CHECK (segment_id ~ '^[a-z][a-z0-9_]{0,62}$'),
                display_name         text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
                description          text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
                kind                 text NOT NULL CHECK (kind IN ('rule_based', 'connector', 'predictive')),
                -- Canonical rule text (rule-based); parse(print(ast)) == ast, so it is the whole AST.
                rule_text            text,
                -- Connector or predictive settings.
                config               jsonb NOT NULL DEFAULT '{}',
                -- Segments the rule references (cycle checks, dependency order).
                refs                 text[] NOT NULL DEFAULT '{}',
                schedule             jsonb NOT NULL,
                state                text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'archived')),
                ready_to_use         boolean NOT NULL DEFAULT false,
                category             text NOT NULL DEFAULT '',
                position             integer NOT NULL DEFAULT 0,
                curation_note        text NOT NULL DEFAULT '',
                curator              text NOT NULL DEFAULT '',
                pinned_at            timestamptz,
                size                 bigint NOT NULL DEFAULT 0,
                last_refresh_at      timestamptz,
                last_refresh_outcome text,
                last_refresh_error   text,
                last_refresh_ms      bigint,
                last_refresh_job     bigint,
                next_refresh_at      timestamptz,
                revision             bigint NOT NULL DEFAULT 1,
                etag                 bigint NOT NULL DEFAULT 1,
                creator              text NOT NULL,
                created_at           timestamptz NOT NULL DEFAULT now(),
                updated_at           timestamptz NOT NULL DEFAULT now(),
                deleted_at           timestamptz,
                purge_at             timestamptz,
                PRIMARY KEY (tenant_id, segment_id)
            );
            CREATE INDEX segments_ready_to_use ON segments (tenant_id, category, position) WHERE ready_to_use AND deleted_at IS NULL;
            CREATE INDEX segments_due ON segments (next_refresh_at) WHERE state = 'active' AND deleted_at IS NULL;

            CREATE TABLE segment_revisions (
                tenant_id      text NOT NULL,
                segment_id     text NOT NULL,
                revision       bigint NOT NULL,
                created_at     timestamptz NOT NULL DEFAULT now(),
                actor          text NOT NULL,
                changed_fields text[] NOT NULL,
                snapshot       jsonb NOT NULL,
                PRIMARY KEY (tenant_id, segment_id, revision),
                FOREIGN KEY (tenant_id, segment_id) REFERENCES segments (tenant_id, segment_id) ON DELETE CASCADE
            );

            CREATE TABLE segment_size_history (
                tenant_id   text NOT NULL,
                segment_id  text NOT NULL,
                seq         bigint GENERATED ALWAYS AS IDENTITY,
                time        timestamptz NOT NULL,
                size        bigint NOT NULL,
                entered     bigint NOT NULL,
                exited      bigint NOT NULL,
                duration_ms bigint NOT NULL,
                job_id      bigint,
                PRIMARY KEY (tenant_id, segment_id, seq),
                FOREIGN KEY (tenant_id, segment_id) REFERENCES segments (tenant_id, segment_id) ON DELETE CASCADE
            );

            -- States: queued → running → succeeded | failed | cancelled, and running → retrying → running.
            CREATE TABLE jobs (
                tenant_id        text NOT NULL REFERENCES tenants (tenant_id),
                job_id           bigint GENERATED ALWAYS AS IDENTITY,
                kind             text NOT NULL,
                target           text NOT NULL,
                args             jsonb NOT NULL DEFAULT '{}',
                unique_key       text,
                state            text NOT NULL DEFAULT 'queued'
                                 CHECK (state IN ('queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')),
                attempt          integer NOT NULL DEFAULT 0,
                max_attempts     integer NOT NULL DEFAULT 5,
                run_at           timestamptz NOT NULL DEFAULT now(),
                lease_owner      text,
                lease_expires_at timestamptz,
                cancel_requested boolean NOT NULL DEFAULT false,
                progress         jsonb NOT NULL DEFAULT '{}',
                result           jsonb,
                errors           jsonb NOT NULL DEFAULT '[]',
                creator          text NOT NULL,
                created_at       timestamptz NOT NULL DEFAULT now(),
                started_at       timestamptz,
                finished_at      timestamptz,
                PRIMARY KEY (tenant_id, job_id)
            );
            -- At most one pending job per unique key (50 refresh requests make one job).
            CREATE UNIQUE INDEX jobs_unique_pending ON jobs (tenant_id, unique_key)
                WHERE unique_key IS NOT NULL AND state IN ('queued', 'retrying');
            CREATE INDEX jobs_claimable ON jobs (run_at) WHERE state IN ('queued', 'retrying');
            CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE state = 'running';
            CREATE INDEX jobs_by_time ON jobs (tenant_id, created_at DESC, job_id DESC);

            DO $do$
            DECLARE t text;
            BEGIN
                FOREACH t IN ARRAY ARRAY['segments', 'segment_revisions', 'segment_size_history'] LOOP
                    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
                    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
                    EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
                        USING (tenant_id = current_setting('app.tenant_id', true))
                        WITH CHECK (tenant_id = current_setting('app.tenant_id', true))$p$, t);
                    EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', t);
                END LOOP;
            END
            $do$;
            -- Workers claim jobs of every tenant (app.job_worker), then work inside the job's tenant.
            ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
            ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON jobs
                USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.job_worker', true) = 'on')
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.job_worker', true) = 'on');
            REVOKE ALL ON jobs FROM PUBLIC;
            GRANT SELECT, INSERT, UPDATE, DELETE ON segments, segment_revisions, segment_size_history, jobs TO {{app_role}};
            """#)
}
