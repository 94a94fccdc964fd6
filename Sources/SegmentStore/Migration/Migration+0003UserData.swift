import SegmentDomain

extension Migration {
    /// Users (dense per-tenant indexes), profiles, time-partitioned events with
    /// message-id de-duplication and per-day rollups, campaign responses,
    /// locations, tags, and the per-tenant catalog.
    static let userData = Migration(
        version: 3, name: "user_data",
        sql: #"""
            -- Each tenant's next user index; its row lock serializes allocation per tenant.
            CREATE TABLE user_index_counters (
                tenant_id text PRIMARY KEY REFERENCES tenants (tenant_id),
                next      bigint NOT NULL
            );

            CREATE TABLE users (
                tenant_id   text NOT NULL REFERENCES tenants (tenant_id),
                user_index  bigint NOT NULL,
                external_id text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),
                created_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (tenant_id, user_index),
                UNIQUE (tenant_id, external_id)
            );

            CREATE TABLE profiles (
                tenant_id        text NOT NULL,
                user_index       bigint NOT NULL,
                attributes       jsonb NOT NULL DEFAULT '{}',
                last_latitude    double precision,
                last_longitude   double precision,
                last_location_at timestamptz,
                updated_at       timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (tenant_id, user_index),
                FOREIGN KEY (tenant_id, user_index) REFERENCES users (tenant_id, user_index) ON DELETE CASCADE
            );

            -- Seen message ids, for de-duplication across event partitions.
            CREATE TABLE event_message_ids (
                tenant_id  text NOT NULL,
                message_id text NOT NULL,
                PRIMARY KEY (tenant_id, message_id)
            );

            CREATE TABLE events (
                tenant_id   text NOT NULL,
                time        timestamptz NOT NULL,
                message_id  text NOT NULL,
                user_index  bigint NOT NULL,
                event_name  text NOT NULL,
                properties  jsonb NOT NULL DEFAULT '{}',
                received_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (tenant_id, message_id, time)
            ) PARTITION BY RANGE (time);
            CREATE INDEX events_by_user ON events (tenant_id, user_index, event_name, time);
            CREATE INDEX events_by_name ON events (tenant_id, event_name, time);
            CREATE TABLE events_default PARTITION OF events DEFAULT;

            -- Per user, event and UTC day: count, first/last time, and for each numeric
            -- property {"s": sum, "n": count, "mn": min, "mx": max}.
            CREATE TABLE event_rollups (
                tenant_id  text NOT NULL,
                event_name text NOT NULL,
                day        date NOT NULL,
                user_index bigint NOT NULL,
                count      bigint NOT NULL,
                first_at   timestamptz NOT NULL,
                last_at    timestamptz NOT NULL,
                numbers    jsonb NOT NULL DEFAULT '{}',
                PRIMARY KEY (tenant_id, event_name, day, user_index)
            );
            CREATE INDEX event_rollups_by_user ON event_rollups (tenant_id, user_index, event_name, day);

            CREATE TABLE campaigns (
                tenant_id       text NOT NULL REFERENCES tenants (tenant_id),
                campaign_id     text NOT NULL,
                first_send_at   timestamptz,
                last_seen_at    timestamptz NOT NULL,
                received        bigint NOT NULL DEFAULT 0,
                opened          bigint NOT NULL DEFAULT 0,
                clicked         bigint NOT NULL DEFAULT 0,
                converted       bigint NOT NULL DEFAULT 0,
                PRIMARY KEY (tenant_id, campaign_id)
            );

            CREATE TABLE campaign_responses (
                tenant_id   text NOT NULL,
                user_index  bigint NOT NULL,
                campaign_id text NOT NULL,
                kind        text NOT NULL CHECK (kind IN ('received', 'opened', 'clicked', 'converted')),
                time        timestamptz NOT NULL,
                PRIMARY KEY (tenant_id, user_index, campaign_id, kind, time),
                FOREIGN KEY (tenant_id, user_index) REFERENCES users (tenant_id, user_index) ON DELETE CASCADE
            );
            CREATE INDEX campaign_responses_by_campaign ON campaign_responses (tenant_id, campaign_id, kind, time);

            CREATE TABLE locations (
                tenant_id  text NOT NULL,
                user_index bigint NOT NULL,
                time       timestamptz NOT NULL,
                latitude   double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
                longitude  double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
                PRIMARY KEY (tenant_id, user_index, time),
                FOREIGN KEY (tenant_id, user_index) REFERENCES users (tenant_id, user_index) ON DELETE CASCADE
            );

            CREATE TABLE tags (
                tenant_id    text NOT NULL REFERENCES tenants (tenant_id),
                tag_id       text NOT NULL CHECK (tag_id ~ '^[a-z][a-z0-9_]{0,63}$'),
                display_name text NOT NULL DEFAULT '',
                description  text NOT NULL DEFAULT '',
                created_at   timestamptz NOT NULL DEFAULT now(),
                etag         bigint NOT NULL DEFAULT 1,
                PRIMARY KEY (tenant_id, tag_id)
            );

            CREATE TABLE user_tags (
                tenant_id   text NOT NULL,
                tag_id      text NOT NULL,
                user_index  bigint NOT NULL,
                assigned_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (tenant_id, tag_id, user_index),
                FOREIGN KEY (tenant_id, tag_id) REFERENCES tags (tenant_id, tag_id) ON DELETE CASCADE ON UPDATE CASCADE,
                FOREIGN KEY (tenant_id, user_index) REFERENCES users (tenant_id, user_index) ON DELETE CASCADE
            );
            CREATE INDEX user_tags_by_user ON user_tags (tenant_id, user_index);

            CREATE TABLE catalog_event_types (
                tenant_id  text NOT NULL REFERENCES tenants (tenant_id),
                event_name text NOT NULL,
                count      bigint NOT NULL DEFAULT 0,
                first_seen timestamptz NOT NULL,
                last_seen  timestamptz NOT NULL,
                PRIMARY KEY (tenant_id, event_name)
            );

            CREATE TABLE catalog_event_properties (
                tenant_id  text NOT NULL,
                event_name text NOT NULL,
                property   text NOT NULL,
                value_type text NOT NULL,
                PRIMARY KEY (tenant_id, event_name, property)
            );

            CREATE TABLE catalog_attributes (
                tenant_id  text NOT NULL REFERENCES tenants (tenant_id),
                attribute  text NOT NULL,
                value_type text NOT NULL,
                count      bigint NOT NULL DEFAULT 0,
                first_seen timestamptz NOT NULL,
                last_seen  timestamptz NOT NULL,
                PRIMARY KEY (tenant_id, attribute)
            );

            -- Row-level security, forced, on every table above.
            DO $do$
            DECLARE t text;
            BEGIN
                FOREACH t IN ARRAY ARRAY['user_index_counters', 'users', 'profiles', 'event_message_ids', 'events',
                                         'events_default', 'event_rollups', 'campaigns', 'campaign_responses', 'locations',
                                         'tags', 'user_tags', 'catalog_event_types', 'catalog_event_properties',
                                         'catalog_attributes'] LOOP
                    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
                    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
                    EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
                        USING (tenant_id = current_setting('app.tenant_id', true))
                        WITH CHECK (tenant_id = current_setting('app.tenant_id', true))$p$, t);
                    EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', t);
                END LOOP;
            END
            $do$;
            GRANT SELECT, INSERT, UPDATE ON user_index_counters TO {{app_role}};
            GRANT SELECT, INSERT, UPDATE, DELETE ON users, profiles, event_message_ids, events, event_rollups, campaigns,
                campaign_responses, locations, tags, user_tags, catalog_event_types, catalog_event_properties,
                catalog_attributes TO {{app_role}};

            -- Monthly event partitions, made ahead at startup and on demand before a
            -- batch needs them (the server role may not create tables), with the same
            -- row-level security as their parent. Call it outside the ingest
            -- transaction: attaching briefly locks the default partition.
            CREATE FUNCTION ensure_event_partitions(p_from timestamptz, p_to timestamptz) RETURNS int
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
                PERFORM pg_advisory_xact_lock(7411);
                WHILE month <= last_month LOOP
                    name := format('events_%s', to_char(month, 'YYYYMM'));
                    IF to_regclass(name) IS NULL THEN
                        EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS)', name);
                        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', name);
                        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', name);
                        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
                            USING (tenant_id = current_setting('app.tenant_id', true))
                            WITH CHECK (tenant_id = current_setting('app.tenant_id', true))$p$, name);
                        EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                            name, month::timestamp AT TIME ZONE 'UTC', (month + interval '1 month')::timestamp AT TIME ZONE 'UTC');
                        made := made + 1;
                    END IF;
                    month := (month + interval '1 month')::date;
                END LOOP;
                RETURN made;
            END
            $fn$;
            REVOKE ALL ON FUNCTION ensure_event_partitions(timestamptz, timestamptz) FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION ensure_event_partitions(timestamptz, timestamptz) TO {{app_role}};

            -- Merges two rollup number maps: sums and counts add, min and max combine.
            CREATE FUNCTION rollup_numbers_merge(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $fn$
                SELECT coalesce(jsonb_object_agg(key, CASE
                           WHEN a -> key IS NULL THEN b -> key
                           WHEN b -> key IS NULL THEN a -> key
                           ELSE jsonb_build_object(
                               's', (a -> key ->> 's')::float8 + (b -> key ->> 's')::float8,
                               'n', (a -> key ->> 'n')::bigint + (b -> key ->> 'n')::bigint,
                               'mn', least((a -> key ->> 'mn')::float8, (b -> key ->> 'mn')::float8),
                               'mx', greatest((a -> key ->> 'mx')::float8, (b -> key ->> 'mx')::float8))
                       END), '{}'::jsonb)
                FROM (SELECT jsonb_object_keys(a) AS key UNION SELECT jsonb_object_keys(b)) keys
            $fn$;
            """#)
}
