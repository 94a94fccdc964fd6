import SegmentDomain

extension Migration {
    /// Tenants and API keys with forced row-level security, the global key lookup
    /// the authenticator needs before it knows the tenant, and installation state.
    static let foundation = Migration(
        version: 1, name: "foundation",
        sql: #"""
            -- One row once the first tenant and keys exist; its insert is the bootstrap lock.
            CREATE TABLE installation (
                id              int PRIMARY KEY CHECK (id = 1),
                bootstrapped_at timestamptz NOT NULL DEFAULT now()
            );
            REVOKE ALL ON installation FROM PUBLIC;
            GRANT SELECT, INSERT ON installation TO {{app_role}};

            CREATE TABLE tenants (
                tenant_id    text PRIMARY KEY CHECK (tenant_id ~ '^[a-z][a-z0-9-]{0,38}[a-z0-9]$'),
                display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
                state        text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
                time_zone    text NOT NULL DEFAULT 'UTC',
                is_platform  boolean NOT NULL DEFAULT false,
                created_at   timestamptz NOT NULL DEFAULT now(),
                updated_at   timestamptz NOT NULL DEFAULT now(),
                etag         bigint NOT NULL DEFAULT 1
            );
            ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
            ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON tenants
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
            REVOKE ALL ON tenants FROM PUBLIC;
            GRANT SELECT, INSERT, UPDATE ON tenants TO {{app_role}};

            CREATE TABLE api_keys (
                tenant_id      text NOT NULL REFERENCES tenants (tenant_id),
                key_id         text NOT NULL,
                display_name   text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
                display_prefix text NOT NULL,
                key_hash       bytea NOT NULL CHECK (length(key_hash) = 32),
                roles          text[] NOT NULL,
                created_at     timestamptz NOT NULL DEFAULT now(),
                created_by     text NOT NULL,
                expires_at     timestamptz,
                revoked_at     timestamptz,
                last_used_at   timestamptz,
                replaced_by    text,
                PRIMARY KEY (tenant_id, key_id),
                UNIQUE (tenant_id, key_hash)
            );
            ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
            ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON api_keys
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
            REVOKE ALL ON api_keys FROM PUBLIC;
            GRANT SELECT, INSERT, UPDATE ON api_keys TO {{app_role}};

            -- Key hash -> tenant, readable only through resolve_api_key(): authentication
            -- must find the tenant before it can scope a transaction to it.
            CREATE TABLE api_key_lookup (
                key_hash  bytea PRIMARY KEY,
                tenant_id text NOT NULL,
                key_id    text NOT NULL
            );
            REVOKE ALL ON api_key_lookup FROM PUBLIC;

            CREATE FUNCTION api_key_lookup_sync() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    INSERT INTO api_key_lookup (key_hash, tenant_id, key_id) VALUES (NEW.key_hash, NEW.tenant_id, NEW.key_id);
                    RETURN NEW;
                END IF;
                DELETE FROM api_key_lookup WHERE key_hash = OLD.key_hash;
                RETURN OLD;
            END
            $fn$;
            REVOKE ALL ON FUNCTION api_key_lookup_sync() FROM PUBLIC;
            CREATE TRIGGER api_keys_lookup_sync AFTER INSERT OR DELETE ON api_keys
                FOR EACH ROW EXECUTE FUNCTION api_key_lookup_sync();

            CREATE FUNCTION resolve_api_key(p_key_hash bytea) RETURNS TABLE (tenant_id text, key_id text)
                LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
                SELECT l.tenant_id, l.key_id FROM api_key_lookup l WHERE l.key_hash = p_key_hash
            $fn$;
            REVOKE ALL ON FUNCTION resolve_api_key(bytea) FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION resolve_api_key(bytea) TO {{app_role}};
            """#)
}
