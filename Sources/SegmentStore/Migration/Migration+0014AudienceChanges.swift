import SegmentDomain

extension Migration {
    /// Which transactions changed a tenant's rule data (users, events, profiles,
    /// campaign responses, tags): a row per transaction, written by statement
    /// triggers so no write path can forget it. The audience engine keeps the
    /// database snapshot it was loaded from; a refresh asks whether any change
    /// committed since is not in that snapshot (`pg_visible_in_snapshot`), exact
    /// whatever order transactions commit in. Rows older than a day are pruned;
    /// a state loaded longer ago than that counts as stale.
    static let audienceChanges = Migration(
        version: 14, name: "audience_changes",
        sql: #"""
            CREATE TABLE audience_changes (
                tenant_id  text NOT NULL,
                xid        xid8 NOT NULL,
                changed_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (tenant_id, xid)
            );
            CREATE INDEX audience_changes_by_time ON audience_changes (changed_at);
            ALTER TABLE audience_changes ENABLE ROW LEVEL SECURITY;
            ALTER TABLE audience_changes FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON audience_changes
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
            CREATE POLICY worker_prunes ON audience_changes FOR DELETE
                USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.job_worker', true) = 'on');
            GRANT SELECT, INSERT, DELETE ON audience_changes TO {{app_role}};

            CREATE FUNCTION audience_changed() RETURNS trigger
                LANGUAGE plpgsql SET search_path = public, pg_temp AS $fn$
            DECLARE
                tenant text := current_setting('app.tenant_id', true);
            BEGIN
                IF coalesce(tenant, '') <> '' THEN
                    INSERT INTO audience_changes (tenant_id, xid) VALUES (tenant, pg_current_xact_id()) ON CONFLICT DO NOTHING;
                END IF;
                RETURN NULL;
            END
            $fn$;
            REVOKE ALL ON FUNCTION audience_changed() FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION audience_changed() TO {{app_role}};
            CREATE TRIGGER users_audience_changed AFTER INSERT OR UPDATE OR DELETE ON users
                FOR EACH STATEMENT EXECUTE FUNCTION audience_changed();
            CREATE TRIGGER events_audience_changed AFTER INSERT OR UPDATE OR DELETE ON events
                FOR EACH STATEMENT EXECUTE FUNCTION audience_changed();
            CREATE TRIGGER profiles_audience_changed AFTER INSERT OR UPDATE OR DELETE ON profiles
                FOR EACH STATEMENT EXECUTE FUNCTION audience_changed();
            CREATE TRIGGER campaign_responses_audience_changed AFTER INSERT OR UPDATE OR DELETE ON campaign_responses
                FOR EACH STATEMENT EXECUTE FUNCTION audience_changed();
            CREATE TRIGGER user_tags_audience_changed AFTER INSERT OR UPDATE OR DELETE ON user_tags
                FOR EACH STATEMENT EXECUTE FUNCTION audience_changed();
            """#)
}
