import SegmentDomain

extension Migration {
    /// Which users each change touched, so the audience engine applies a batch by
    /// reading only those users again instead of reloading the tenant, and a
    /// NOTIFY so every process holding the tenant catches up at once.
    ///
    /// A row per statement now (a transaction may write several), with the
    /// distinct user indexes of its transition table; rows written before this
    /// migration have no users, which the engine reads as "reload the tenant".
    /// The notification (`segmentd_audience`, payload the tenant id) is sent when
    /// the transaction commits, once per transaction.
    static let audienceChangeUsers = Migration(
        version: 15, name: "audience_change_users",
        sql: #"""
            ALTER TABLE audience_changes DROP CONSTRAINT audience_changes_pkey;
            ALTER TABLE audience_changes ADD COLUMN change_id bigint GENERATED ALWAYS AS IDENTITY;
            ALTER TABLE audience_changes ADD PRIMARY KEY (tenant_id, change_id);
            ALTER TABLE audience_changes ADD COLUMN users bigint[];
            CREATE INDEX audience_changes_by_xid ON audience_changes (tenant_id, xid);

            DROP TRIGGER users_audience_changed ON users;
            DROP TRIGGER events_audience_changed ON events;
            DROP TRIGGER profiles_audience_changed ON profiles;
            DROP TRIGGER campaign_responses_audience_changed ON campaign_responses;
            DROP TRIGGER user_tags_audience_changed ON user_tags;
            DROP FUNCTION audience_changed();

            CREATE FUNCTION audience_changed() RETURNS trigger
                LANGUAGE plpgsql SET search_path = public, pg_temp AS $fn$
            DECLARE
                tenant text := current_setting('app.tenant_id', true);
                touched bigint[];
            BEGIN
                IF coalesce(tenant, '') = '' THEN
                    RETURN NULL;
                END IF;
                IF TG_OP = 'INSERT' THEN
                    SELECT array_agg(DISTINCT user_index) INTO touched FROM new_rows;
                ELSIF TG_OP = 'DELETE' THEN
                    SELECT array_agg(DISTINCT user_index) INTO touched FROM old_rows;
                ELSE
                    SELECT array_agg(user_index) INTO touched
                    FROM (SELECT user_index FROM new_rows UNION SELECT user_index FROM old_rows) AS changed;
                END IF;
                IF touched IS NOT NULL THEN
                    INSERT INTO audience_changes (tenant_id, xid, users) VALUES (tenant, pg_current_xact_id(), touched);
                    PERFORM pg_notify('segmentd_audience', tenant);
                END IF;
                RETURN NULL;
            END
            $fn$;
            REVOKE ALL ON FUNCTION audience_changed() FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION audience_changed() TO {{app_role}};

            DO $triggers$
            DECLARE
                data_table text;
            BEGIN
                FOREACH data_table IN ARRAY ARRAY['users', 'events', 'profiles', 'campaign_responses', 'user_tags'] LOOP
                    EXECUTE format(
                        'CREATE TRIGGER %1$s_audience_inserted AFTER INSERT ON %1$I REFERENCING NEW TABLE AS new_rows '
                        'FOR EACH STATEMENT EXECUTE FUNCTION audience_changed()', data_table);
                    EXECUTE format(
                        'CREATE TRIGGER %1$s_audience_updated AFTER UPDATE ON %1$I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                        'FOR EACH STATEMENT EXECUTE FUNCTION audience_changed()', data_table);
                    EXECUTE format(
                        'CREATE TRIGGER %1$s_audience_deleted AFTER DELETE ON %1$I REFERENCING OLD TABLE AS old_rows '
                        'FOR EACH STATEMENT EXECUTE FUNCTION audience_changed()', data_table);
                END LOOP;
            END
            $triggers$;
            """#)
}
