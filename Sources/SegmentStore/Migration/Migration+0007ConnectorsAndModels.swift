import SegmentDomain

extension Migration {
    /// Connector segments (the connector-side id set, idempotent syncs, staged
    /// full-replace sessions, pull sources' secrets and validators) and
    /// predictive segments (the trained model and every user's score).
    static let connectorsAndModels = Migration(
        version: 7, name: "connectors_and_models",
        sql: #"""
            -- What the connector sent, matched or not: users ingested later enter on the next refresh.
            CREATE TABLE connector_members (
                tenant_id   text NOT NULL,
                segment_id  text NOT NULL,
                external_id text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),
                PRIMARY KEY (tenant_id, segment_id, external_id),
                FOREIGN KEY (tenant_id, segment_id) REFERENCES segments (tenant_id, segment_id) ON DELETE CASCADE
            );

            -- One row per applied sync: a retry with the same sync id returns this result and changes nothing.
            CREATE TABLE connector_syncs (
                tenant_id  text NOT NULL,
                segment_id text NOT NULL,
                sync_id    text NOT NULL CHECK (length(sync_id) BETWEEN 1 AND 200),
                operation  text NOT NULL CHECK (operation IN ('add', 'remove', 'replace', 'import', 'pull')),
                result     jsonb NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (tenant_id, segment_id, sync_id),
                FOREIGN KEY (tenant_id, segment_id) REFERENCES segments (tenant_id, segment_id) ON DELETE CASCADE
            );

            -- Full-replace sessions and file imports stage ids here; only a commit touches membership.
            CREATE TABLE replace_sessions (
                tenant_id  text NOT NULL,
                session_id bigint GENERATED ALWAYS AS IDENTITY,
                segment_id text NOT NULL,
                sync_id    text NOT NULL CHECK (length(sync_id) BETWEEN 1 AND 200),
                mode       text NOT NULL CHECK (mode IN ('replace', 'add')),
                state      text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'committed', 'aborted')),
                staged     bigint NOT NULL DEFAULT 0,
                creator    text NOT NULL,
                created_at timestamptz NOT NULL,
                expires_at timestamptz NOT NULL,
                PRIMARY KEY (tenant_id, session_id),
                UNIQUE (tenant_id, segment_id, sync_id),
                FOREIGN KEY (tenant_id, segment_id) REFERENCES segments (tenant_id, segment_id) ON DELETE CASCADE
            );
            CREATE INDEX replace_sessions_open ON replace_sessions (expires_at) WHERE state = 'open';

            CREATE TABLE replace_staging (
                tenant_id   text NOT NULL,
                session_id  bigint NOT NULL,
                external_id text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),
                PRIMARY KEY (tenant_id, session_id, external_id),
                FOREIGN KEY (tenant_id, session_id) REFERENCES replace_sessions (tenant_id, session_id) ON DELETE CASCADE
            );

            -- Chunk sequence numbers seen, so a resent chunk is ignored.
            CREATE TABLE replace_chunks (
                tenant_id  text NOT NULL,
                session_id bigint NOT NULL,
                sequence   bigint NOT NULL,
                PRIMARY KEY (tenant_id, session_id, sequence),
                FOREIGN KEY (tenant_id, session_id) REFERENCES replace_sessions (tenant_id, session_id) ON DELETE CASCADE
            );

            -- A pull source's secret and validators: never returned by the API, logged or audited.
            CREATE TABLE connector_pull_state (
                tenant_id     text NOT NULL,
                segment_id    text NOT NULL,
                auth_header   text,
                etag          text,
                last_modified text,
                PRIMARY KEY (tenant_id, segment_id),
                FOREIGN KEY (tenant_id, segment_id) REFERENCES segments (tenant_id, segment_id) ON DELETE CASCADE
            );

            ALTER TABLE segments ADD COLUMN connector_count bigint, ADD COLUMN matched_count bigint;

            -- The trained model (weights, standardisation) and its card.
            CREATE TABLE predictive_models (
                tenant_id  text NOT NULL,
                segment_id text NOT NULL,
                card       jsonb NOT NULL,
                model      jsonb NOT NULL,
                trained_at timestamptz NOT NULL,
                scored_at  timestamptz NOT NULL,
                PRIMARY KEY (tenant_id, segment_id),
                FOREIGN KEY (tenant_id, segment_id) REFERENCES segments (tenant_id, segment_id) ON DELETE CASCADE
            );

            CREATE TABLE predictive_scores (
                tenant_id  text NOT NULL,
                segment_id text NOT NULL,
                user_index bigint NOT NULL,
                score      double precision NOT NULL,
                bucket     text NOT NULL CHECK (bucket IN ('high', 'medium', 'low')),
                PRIMARY KEY (tenant_id, segment_id, user_index),
                FOREIGN KEY (tenant_id, segment_id) REFERENCES segments (tenant_id, segment_id) ON DELETE CASCADE,
                FOREIGN KEY (tenant_id, user_index) REFERENCES users (tenant_id, user_index) ON DELETE CASCADE
            );
            CREATE INDEX predictive_scores_by_bucket ON predictive_scores (tenant_id, segment_id, bucket);

            DO $do$
            DECLARE t text;
            BEGIN
                FOREACH t IN ARRAY ARRAY['connector_members', 'connector_syncs', 'replace_sessions', 'replace_staging', 'replace_chunks',
                                         'connector_pull_state', 'predictive_models', 'predictive_scores'] LOOP
                    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
                    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
                    EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
                        USING (tenant_id = current_setting('app.tenant_id', true))
                        WITH CHECK (tenant_id = current_setting('app.tenant_id', true))$p$, t);
                    EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', t);
                    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO {{app_role}}', t);
                END LOOP;
            END
            $do$;
            """#)
}
