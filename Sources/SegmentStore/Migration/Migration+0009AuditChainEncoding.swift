import SegmentDomain

extension Migration {
    /// The audit chain hashes a length-prefixed encoding of each entry, its head is
    /// kept by the chain trigger alone, and every existing chain is re-hashed.
    ///
    /// Until now an entry's hash covered its fields joined with `chr(31)`. The
    /// request id and user agent come from the client and may hold that
    /// character, so moving one between two neighbouring fields (request id
    /// `r␟x` and peer `p` becoming `r` and `x␟p`) changed the entry without
    /// changing its hash: an edit neither `verify` nor a signed checkpoint could
    /// see. Now each text field is its byte length (8 bytes, big-endian; -1 for
    /// NULL, so NULL and empty differ) followed by its UTF-8 bytes, numbers are
    /// fixed-width, and the whole starts with a version tag.
    ///
    /// The server role could also update `audit_chain_heads` directly (the
    /// trigger ran with its rights), so it could rewind a chain. The trigger now
    /// runs as the owner (SECURITY DEFINER, fixed search_path) and the server
    /// role may only read the heads.
    ///
    /// Re-chaining keeps every entry's content and sequence and recomputes
    /// `previous_hash` and `hash` in order. A chain that was already broken under
    /// the old encoding would verify afterwards, so each chain first gets checked
    /// with the old hash, and one entry appended after the re-chain
    /// (`audit.rechain`, actor `system`) records how many entries were
    /// re-hashed, the old head hash and whether the old chain was intact or
    /// where it broke. Gaps in sequence numbers stay visible to `verify`.
    static let auditChainEncoding = Migration(
        version: 9, name: "audit_chain_encoding",
        sql: #"""
            -- The old hash stays under another name until the old chains are checked.
            ALTER FUNCTION audit_event_hash(bytea, text, bigint, timestamptz, text, text, text, text, text, text, text, text, jsonb, jsonb)
                RENAME TO audit_event_hash_v1;

            -- One text field of the encoding: its UTF-8 byte length as 8 bytes, big-endian, then the bytes;
            -- NULL is the length -1 and no bytes, so it differs from the empty string.
            CREATE FUNCTION audit_field(p_value text) RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
                SELECT CASE WHEN p_value IS NULL THEN pg_catalog.int8send(-1::bigint)
                            ELSE pg_catalog.int8send(pg_catalog.length(pg_catalog.convert_to(p_value, 'UTF8'))::bigint)
                                 || pg_catalog.convert_to(p_value, 'UTF8') END
            $fn$;

            -- What an entry's hash covers, in one place for append and verify: a version tag, the previous
            -- hash, then every field, each length-prefixed (text) or fixed-width (numbers).
            CREATE FUNCTION audit_event_hash(
                p_previous bytea, p_tenant text, p_sequence bigint, p_time timestamptz, p_actor text, p_actor_display text,
                p_action text, p_resource text, p_result text, p_request_id text, p_peer text, p_user_agent text,
                p_before jsonb, p_after jsonb
            ) RETURNS bytea LANGUAGE sql IMMUTABLE AS $fn$
                SELECT pg_catalog.sha256(
                    pg_catalog.convert_to('segmentd.audit.v2', 'UTF8')
                    || pg_catalog.int8send(pg_catalog.length(p_previous)::bigint) || p_previous
                    || public.audit_field(p_tenant)
                    || pg_catalog.int8send(p_sequence)
                    || pg_catalog.int8send((extract(epoch FROM p_time) * 1000000)::bigint)
                    || public.audit_field(p_actor) || public.audit_field(p_actor_display)
                    || public.audit_field(p_action) || public.audit_field(p_resource) || public.audit_field(p_result)
                    || public.audit_field(p_request_id) || public.audit_field(p_peer) || public.audit_field(p_user_agent)
                    || public.audit_field(p_before::text) || public.audit_field(p_after::text))
            $fn$;

            -- Appends are numbered, linked and hashed here, as the owner: the server role only reads the heads.
            -- The head's row lock serializes appends per tenant; row-level security still limits the owner
            -- to the transaction's tenant.
            CREATE OR REPLACE FUNCTION audit_events_chain() RETURNS trigger LANGUAGE plpgsql
            SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $fn$
            DECLARE
                head_sequence bigint;
                head_hash bytea;
            BEGIN
                INSERT INTO public.audit_chain_heads AS h (tenant_id, sequence, hash)
                VALUES (NEW.tenant_id, 1, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
                ON CONFLICT (tenant_id) DO UPDATE SET sequence = h.sequence + 1
                RETURNING h.sequence, h.hash INTO head_sequence, head_hash;
                NEW.sequence := head_sequence;
                NEW.time := now();
                NEW.previous_hash := head_hash;
                NEW.hash := public.audit_event_hash(head_hash, NEW.tenant_id, NEW.sequence, NEW.time, NEW.actor,
                    NEW.actor_display, NEW.action, NEW.resource, NEW.result, NEW.request_id, NEW.peer, NEW.user_agent,
                    NEW.before, NEW.after);
                UPDATE public.audit_chain_heads SET hash = NEW.hash WHERE tenant_id = NEW.tenant_id;
                RETURN NEW;
            END
            $fn$;
            REVOKE ALL ON FUNCTION audit_events_chain() FROM PUBLIC;

            REVOKE ALL ON audit_chain_heads FROM {{app_role}};
            GRANT SELECT ON audit_chain_heads TO {{app_role}};

            -- Re-chain every tenant's entries in sequence order with the new hash.
            DO $rechain$
            DECLARE
                zero CONSTANT bytea := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
                chains text[];
                chain text;
                entry record;
                head_sequence bigint;
                head_hash bytea;
                old_previous bytea;
                new_previous bytea;
                new_hash bytea;
                last_sequence bigint;
                entries bigint;
                broken text;
            BEGIN
                -- The platform context shows every tenant row (and only the tenants table does that).
                PERFORM set_config('app.tenant_id', 'platform', true);
                SELECT coalesce(array_agg(tenant_id ORDER BY tenant_id), '{}') INTO chains FROM tenants;
                -- The log is append-only even for the owner; the one exception is this re-chain.
                ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update;
                FOREACH chain IN ARRAY chains LOOP
                    PERFORM set_config('app.tenant_id', chain, true);
                    SELECT h.sequence, h.hash INTO head_sequence, head_hash FROM audit_chain_heads h;
                    CONTINUE WHEN NOT FOUND;
                    old_previous := zero;
                    new_previous := zero;
                    last_sequence := 0;
                    entries := 0;
                    broken := NULL;
                    FOR entry IN SELECT * FROM audit_events ORDER BY sequence LOOP
                        -- The old chain, checked as AuditLog.verify checked it, before its hashes are replaced.
                        IF broken IS NULL THEN
                            IF entry.sequence <> last_sequence + 1 THEN
                                broken := format('gap before sequence %s', entry.sequence);
                            ELSIF entry.previous_hash <> old_previous THEN
                                broken := format('broken link at sequence %s', entry.sequence);
                            ELSIF audit_event_hash_v1(entry.previous_hash, entry.tenant_id, entry.sequence, entry.time,
                                    entry.actor, entry.actor_display, entry.action, entry.resource, entry.result,
                                    entry.request_id, entry.peer, entry.user_agent, entry.before, entry.after) <> entry.hash THEN
                                broken := format('hash mismatch at sequence %s', entry.sequence);
                            END IF;
                        END IF;
                        old_previous := entry.hash;
                        last_sequence := entry.sequence;
                        new_hash := audit_event_hash(new_previous, entry.tenant_id, entry.sequence, entry.time, entry.actor,
                            entry.actor_display, entry.action, entry.resource, entry.result, entry.request_id, entry.peer,
                            entry.user_agent, entry.before, entry.after);
                        UPDATE audit_events SET previous_hash = new_previous, hash = new_hash
                        WHERE tenant_id = entry.tenant_id AND sequence = entry.sequence;
                        new_previous := new_hash;
                        entries := entries + 1;
                    END LOOP;
                    IF broken IS NULL AND head_sequence <> last_sequence THEN
                        broken := format('entries after sequence %s missing (head at %s)', last_sequence, head_sequence);
                    ELSIF broken IS NULL AND head_hash <> old_previous THEN
                        broken := format('head hash differs from entry %s', last_sequence);
                    END IF;
                    UPDATE audit_chain_heads SET hash = new_previous WHERE tenant_id = chain;
                    INSERT INTO audit_events (tenant_id, actor, action, resource, result, after, previous_hash, hash)
                    VALUES (chain, 'system', 'audit.rechain', 'tenants/' || chain, 'OK',
                            jsonb_build_object(
                                'encoding', 'length-prefixed (segmentd.audit.v2)',
                                'entries', entries,
                                'previous_head_hash', encode(head_hash, 'hex'),
                                'previous_chain', coalesce(broken, 'intact')),
                            '\x'::bytea, '\x'::bytea);
                END LOOP;
                ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update;
            END
            $rechain$;

            DROP FUNCTION audit_event_hash_v1(bytea, text, bigint, timestamptz, text, text, text, text, text, text, text, text, jsonb, jsonb);
            """#)
}
