import SegmentDomain

extension Migration {
    /// The membership change log: every change of a segment's membership, of
    /// every kind (refresh difference, real-time flip, connector sync, scoring,
    /// user deletion), as an append-only row with a position per tenant, written
    /// in the transaction that changes the membership (``ChangeLog``).
    ///
    /// Positions come from one counter row per tenant, bumped by the statement
    /// that appends: its row lock is held until commit, so a tenant's writes
    /// take their positions in the order they commit, with no gaps; a reader
    /// that has seen position P never later finds a smaller one. The log is
    /// partitioned by month of writing and kept for the retention setting
    /// (whole months dropped, the rest deleted by row). Each committed append
    /// sends a NOTIFY on `segmentd_changes` with the tenant, which wakes its
    /// watchers. It replaces `segment_changes` (whose rows it takes over, in
    /// their order).
    static let membershipChangeLog = Migration(
        version: 17, name: "membership_change_log",
        sql: #"""
            CREATE TABLE membership_change_positions (
                tenant_id      text PRIMARY KEY,
                last_position  bigint NOT NULL CHECK (last_position >= 0),
                -- The latest instant a pruned change took effect: membership before it cannot be told.
                pruned_through timestamptz
            );

            CREATE TABLE membership_changes (
                tenant_id    text NOT NULL,
                position     bigint NOT NULL,
                segment_id   text NOT NULL,
                user_index   bigint NOT NULL,
                entered      boolean NOT NULL,
                effective_at timestamptz NOT NULL,
                cause        text NOT NULL CHECK (cause IN ('refresh', 'realtime', 'sync', 'score', 'deletion')),
                job_id       bigint,
                -- The segment's member version after the write (member streams page older versions through it).
                version      bigint NOT NULL,
                written_at   timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (tenant_id, position, written_at)
            ) PARTITION BY RANGE (written_at);
            CREATE INDEX membership_changes_by_segment ON membership_changes (tenant_id, segment_id, version);
            -- A user's changes of a segment: membership at an instant, and member streams' pages.
            CREATE INDEX membership_changes_by_user ON membership_changes (tenant_id, segment_id, user_index, version);
            -- Rows arrive in time order: a block range index finds the old ones for the retention sweep.
            CREATE INDEX membership_changes_by_time ON membership_changes USING brin (written_at);
            CREATE TABLE membership_changes_default PARTITION OF membership_changes DEFAULT;

            -- The old table's rows, in the order they were written.
            ALTER TABLE segment_changes NO FORCE ROW LEVEL SECURITY;
            INSERT INTO membership_changes (tenant_id, position, segment_id, user_index, entered, effective_at, cause, job_id, version, written_at)
            SELECT tenant_id, row_number() OVER (PARTITION BY tenant_id ORDER BY written_at, version, segment_id, user_index),
                   segment_id, user_index, change = 'entered', written_at, 'refresh', job_id, version, written_at
            FROM segment_changes;
            INSERT INTO membership_change_positions (tenant_id, last_position)
            SELECT tenant_id, count(*) FROM segment_changes GROUP BY tenant_id;
            DROP TABLE segment_changes;

            ALTER TABLE membership_change_positions ENABLE ROW LEVEL SECURITY;
            ALTER TABLE membership_change_positions FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON membership_change_positions
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
            REVOKE ALL ON membership_change_positions FROM PUBLIC;
            GRANT SELECT, INSERT, UPDATE ON membership_change_positions TO {{app_role}};

            ALTER TABLE membership_changes ENABLE ROW LEVEL SECURITY;
            ALTER TABLE membership_changes FORCE ROW LEVEL SECURITY;
            ALTER TABLE membership_changes_default ENABLE ROW LEVEL SECURITY;
            ALTER TABLE membership_changes_default FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON membership_changes
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
            -- The retention sweep finds and deletes old rows of every tenant.
            CREATE POLICY worker_reads ON membership_changes FOR SELECT
                USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.job_worker', true) = 'on');
            CREATE POLICY worker_prunes ON membership_changes FOR DELETE
                USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.job_worker', true) = 'on');
            CREATE POLICY tenant_isolation ON membership_changes_default
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
            REVOKE ALL ON membership_changes FROM PUBLIC;
            GRANT SELECT, INSERT, DELETE ON membership_changes TO {{app_role}};

            -- Watchers wake when a tenant's changes commit (payload: the tenant id).
            CREATE FUNCTION membership_changes_notify() RETURNS trigger
                LANGUAGE plpgsql SET search_path = public, pg_temp AS $fn$
            BEGIN
                IF EXISTS (SELECT 1 FROM appended) THEN
                    PERFORM pg_notify('segmentd_changes', current_setting('app.tenant_id', true));
                END IF;
                RETURN NULL;
            END
            $fn$;
            REVOKE ALL ON FUNCTION membership_changes_notify() FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION membership_changes_notify() TO {{app_role}};
            CREATE TRIGGER membership_changes_notify AFTER INSERT ON membership_changes
                REFERENCING NEW TABLE AS appended FOR EACH STATEMENT EXECUTE FUNCTION membership_changes_notify();

            -- Monthly partitions, made ahead at startup and by the retention sweep (the server
            -- role may not create tables), with their parent's row-level security. Call it
            -- outside a membership write: attaching briefly locks the default partition.
            CREATE FUNCTION ensure_change_partitions(p_from timestamptz, p_to timestamptz) RETURNS int
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
            DECLARE
                month date := date_trunc('month', p_from AT TIME ZONE 'UTC')::date;
                last_month date := date_trunc('month', p_to AT TIME ZONE 'UTC')::date;
                made int := 0;
                name text;
            BEGIN
                IF last_month - month > 3660 THEN
                    RAISE EXCEPTION 'partition range too wide' USING ERRCODE = 'invalid_parameter_value';
                END IF;
                PERFORM pg_advisory_xact_lock(7412);
                WHILE month <= last_month LOOP
                    name := format('membership_changes_%s', to_char(month, 'YYYYMM'));
                    IF to_regclass(name) IS NULL THEN
                        EXECUTE format('CREATE TABLE %I (LIKE membership_changes INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
                        -- Rows of that month in the default partition (written before the partition was made)
                        -- move into it first, or attaching would fail. (Forced security hides them from the owner.)
                        ALTER TABLE membership_changes_default NO FORCE ROW LEVEL SECURITY;
                        EXECUTE format('WITH moved AS (DELETE FROM membership_changes_default WHERE written_at >= %L AND written_at < %L RETURNING *) '
                            'INSERT INTO %I SELECT * FROM moved',
                            month::timestamp AT TIME ZONE 'UTC', (month + interval '1 month')::timestamp AT TIME ZONE 'UTC', name);
                        ALTER TABLE membership_changes_default FORCE ROW LEVEL SECURITY;
                        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', name);
                        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', name);
                        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
                            USING (tenant_id = current_setting('app.tenant_id', true))
                            WITH CHECK (tenant_id = current_setting('app.tenant_id', true))$p$, name);
                        EXECUTE format('ALTER TABLE membership_changes ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                            name, month::timestamp AT TIME ZONE 'UTC', (month + interval '1 month')::timestamp AT TIME ZONE 'UTC');
                        made := made + 1;
                    END IF;
                    month := (month + interval '1 month')::date;
                END LOOP;
                RETURN made;
            END
            $fn$;
            REVOKE ALL ON FUNCTION ensure_change_partitions(timestamptz, timestamptz) FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION ensure_change_partitions(timestamptz, timestamptz) TO {{app_role}};

            -- Drops the monthly partitions that hold only rows written before p_before.
            CREATE FUNCTION drop_change_partitions(p_before timestamptz) RETURNS int
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
            DECLARE
                partition record;
                dropped int := 0;
            BEGIN
                PERFORM pg_advisory_xact_lock(7412);
                FOR partition IN
                    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = 'membership_changes'::regclass AND c.relname ~ '^membership_changes_[0-9]{6}$'
                LOOP
                    IF (to_date(right(partition.relname, 6), 'YYYYMM') + interval '1 month')::timestamp AT TIME ZONE 'UTC' <= p_before THEN
                        EXECUTE format('DROP TABLE %I', partition.relname);
                        dropped := dropped + 1;
                    END IF;
                END LOOP;
                RETURN dropped;
            END
            $fn$;
            REVOKE ALL ON FUNCTION drop_change_partitions(timestamptz) FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION drop_change_partitions(timestamptz) TO {{app_role}};
            """#)
}
