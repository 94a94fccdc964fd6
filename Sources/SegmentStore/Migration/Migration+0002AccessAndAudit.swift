import SegmentDomain

extension Migration {
    /// Custom roles, the hash-chained append-only audit log, and the platform
    /// context that lets operators see every tenant row (and only tenant rows).
    static let accessAndAudit = Migration(
        version: 2, name: "access_and_audit",
        sql: #"""
            -- Platform operators (keys of the reserved 'platform' tenant) manage tenants:
            -- in the platform context the tenants table, and only it, shows every row.
            DROP POLICY tenant_isolation ON tenants;
            CREATE POLICY tenant_isolation ON tenants
                USING (tenant_id = current_setting('app.tenant_id', true)
                       OR current_setting('app.tenant_id', true) = 'platform')
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
                            OR current_setting('app.tenant_id', true) = 'platform');

            -- Custom roles; built-in roles live in code.
            CREATE TABLE roles (
                tenant_id    text NOT NULL REFERENCES tenants (tenant_id),
                role_id      text NOT NULL CHECK (role_id ~ '^[a-z][a-z0-9_]{1,39}$'),
                display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
                description  text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
                permissions  text[] NOT NULL,
                created_at   timestamptz NOT NULL DEFAULT now(),
                updated_at   timestamptz NOT NULL DEFAULT now(),
                etag         bigint NOT NULL DEFAULT 1,
                PRIMARY KEY (tenant_id, role_id)
            );
            ALTER TABLE roles ENABLE ROW LEVEL SECURITY;
            ALTER TABLE roles FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON roles
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
            REVOKE ALL ON roles FROM PUBLIC;
            GRANT SELECT, INSERT, UPDATE, DELETE ON roles TO {{app_role}};

            ALTER TABLE api_keys ADD COLUMN etag bigint NOT NULL DEFAULT 1;
            CREATE INDEX api_keys_by_created ON api_keys (tenant_id, created_at DESC, key_id);

            -- The head of each tenant's audit chain: its row lock serializes appends,
            -- which keeps sequence numbers gapless.
            CREATE TABLE audit_chain_heads (
                tenant_id text PRIMARY KEY REFERENCES tenants (tenant_id),
                sequence  bigint NOT NULL,
                hash      bytea NOT NULL
            );
            ALTER TABLE audit_chain_heads ENABLE ROW LEVEL SECURITY;
            ALTER TABLE audit_chain_heads FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON audit_chain_heads
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
            REVOKE ALL ON audit_chain_heads FROM PUBLIC;
            GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO {{app_role}};

            CREATE TABLE audit_events (
                tenant_id     text NOT NULL REFERENCES tenants (tenant_id),
                sequence      bigint NOT NULL,
                time          timestamptz NOT NULL DEFAULT now(),
                actor         text NOT NULL,
                actor_display text NOT NULL DEFAULT '',
                action        text NOT NULL,
                resource      text NOT NULL DEFAULT '',
                result        text NOT NULL,
                request_id    text NOT NULL DEFAULT '',
                peer          text NOT NULL DEFAULT '',
                user_agent    text NOT NULL DEFAULT '',
                before        jsonb,
                after         jsonb,
                previous_hash bytea NOT NULL,
                hash          bytea NOT NULL,
                PRIMARY KEY (tenant_id, sequence)
            );
            ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
            ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON audit_events
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
            REVOKE ALL ON audit_events FROM PUBLIC;
            GRANT SELECT, INSERT ON audit_events TO {{app_role}};
            CREATE INDEX audit_events_by_time ON audit_events (tenant_id, time);

            -- What an entry's hash covers, in one place for append and verify.
            CREATE FUNCTION audit_event_hash(
                p_previous bytea, p_tenant text, p_sequence bigint, p_time timestamptz, p_actor text, p_actor_display text,
                p_action text, p_resource text, p_result text, p_request_id text, p_peer text, p_user_agent text,
                p_before jsonb, p_after jsonb
            ) RETURNS bytea LANGUAGE sql IMMUTABLE AS $fn$
                SELECT sha256(p_previous || convert_to(concat_ws(chr(31),
                    p_tenant, p_sequence::text, (extract(epoch FROM p_time) * 1000000)::bigint::text,
                    p_actor, p_actor_display, p_action, p_resource, p_result, p_request_id, p_peer, p_user_agent,
                    coalesce(p_before::text, ''), coalesce(p_after::text, '')), 'UTF8'))
            $fn$;

            -- Appends are numbered, linked and hashed here, so no caller can get it wrong.
            CREATE FUNCTION audit_events_chain() RETURNS trigger LANGUAGE plpgsql AS $fn$
            DECLARE
                head_sequence bigint;
                head_hash bytea;
            BEGIN
                INSERT INTO audit_chain_heads AS h (tenant_id, sequence, hash)
                VALUES (NEW.tenant_id, 1, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
                ON CONFLICT (tenant_id) DO UPDATE SET sequence = h.sequence + 1
                RETURNING h.sequence, h.hash INTO head_sequence, head_hash;
                NEW.sequence := head_sequence;
                NEW.time := now();
                NEW.previous_hash := head_hash;
                NEW.hash := audit_event_hash(head_hash, NEW.tenant_id, NEW.sequence, NEW.time, NEW.actor, NEW.actor_display,
                    NEW.action, NEW.resource, NEW.result, NEW.request_id, NEW.peer, NEW.user_agent, NEW.before, NEW.after);
                UPDATE audit_chain_heads SET hash = NEW.hash WHERE tenant_id = NEW.tenant_id;
                RETURN NEW;
            END
            $fn$;
            CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
                FOR EACH ROW EXECUTE FUNCTION audit_events_chain();

            -- Append-only, even for the owner: updates, deletes and truncates are refused.
            CREATE FUNCTION audit_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
            END
            $fn$;
            CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
                FOR EACH ROW EXECUTE FUNCTION audit_events_immutable();
            CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
                FOR EACH STATEMENT EXECUTE FUNCTION audit_events_immutable();
            """#)
}
