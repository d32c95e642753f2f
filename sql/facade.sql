-- idgraph: tables and functions the HTTPS facade needs (API keys). Owned by the facade work.
--
-- API keys look like idg_live_<key_id>_<secret>. The facade generates them and hashes
-- the 256-bit secret with argon2id (or bcrypt); only the hash is stored here. The
-- facade finds a key by its id (the primary key: never a scan over all keys) and
-- verifies the secret itself. Keys are created, listed and revoked by an idgraph_admin
-- (the `idgraph-facade keys` commands); the facade's own role may only look keys up.
--
-- Keys expire (seed 000 §2: mandatory rotation every 90 days): 90 days after creation
-- unless another expiry is given. `api_key_rotate` issues a successor with the same name,
-- scopes and team; the old key keeps working for a grace period (default 7 days), then
-- expires. The facade warns (a `Warning` header) when a key has less than 14 days left.
--
-- SQLSTATEs: 22023 bad key id, name, hash, scope, expiry or grace; 23505 key id taken;
-- P0002 unknown key; 55000 a revoked or already rotated key cannot be rotated.

CREATE TABLE idgraph.api_keys (
    key_id       text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    secret_hash  text NOT NULL CHECK (secret_hash LIKE '$argon2id$%' OR secret_hash ~ '^\$2[aby]\$'),
    scopes       text[] NOT NULL CHECK (cardinality(scopes) >= 1 AND scopes <@ ARRAY['identity:read', 'identity:write',
                                         'identity:admin', 'graph:read', 'graph:write', 'slo:write']),
    team         text CHECK (length(team) BETWEEN 1 AND 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL DEFAULT session_user,
    expires_at   timestamptz NOT NULL DEFAULT (now() + interval '90 days'),
    revoked_at   timestamptz,
    revoked_by   text,
    last_used_at timestamptz,
    replaced_by  text CHECK (replaced_by ~ '^[0-9a-f]{16}$')
);
COMMENT ON TABLE idgraph.api_keys IS
  'API keys of the HTTPS facade: argon2id/bcrypt hashes of their secrets, never the secrets. Every key expires (default 90 days); a rotated key names its successor in replaced_by and works until its (shortened) expiry. Managed with idgraph.api_key_create / api_key_rotate / api_key_revoke / api_keys_list.';
SELECT pg_catalog.pg_extension_config_dump('idgraph.api_keys', '');

CREATE FUNCTION idgraph._check_scopes(p_scopes text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_bad text;
BEGIN
  IF p_scopes IS NULL OR cardinality(p_scopes) = 0 THEN
    RAISE EXCEPTION 'a key needs at least one scope' USING ERRCODE = '22023',
      HINT = 'Scopes: identity:read, identity:write, identity:admin, graph:read, graph:write, slo:write.';
  END IF;
  SELECT s INTO v_bad FROM unnest(p_scopes) s
   WHERE s IS NULL OR s NOT IN ('identity:read', 'identity:write', 'identity:admin', 'graph:read', 'graph:write', 'slo:write')
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'unknown scope %', coalesce(quote_literal(v_bad), 'NULL') USING ERRCODE = '22023',
      HINT = 'Scopes: identity:read, identity:write, identity:admin, graph:read, graph:write, slo:write.';
  END IF;
END
$$;

CREATE FUNCTION idgraph.api_key_create(p_key_id text, p_name text, p_secret_hash text, p_scopes text[],
                                       p_team text DEFAULT NULL, p_expires_at timestamptz DEFAULT NULL)
RETURNS TABLE (key_id text, name text, scopes text[], team text, created_at timestamptz, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_key_id IS NULL OR p_key_id !~ '^[0-9a-f]{16}$' THEN
    RAISE EXCEPTION 'key id must be 16 lower-case hex digits' USING ERRCODE = '22023';
  END IF;
  IF p_name IS NULL OR length(btrim(p_name)) = 0 OR length(p_name) > 200 THEN
    RAISE EXCEPTION 'key name must be 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  IF p_secret_hash IS NULL OR NOT (p_secret_hash LIKE '$argon2id$%' OR p_secret_hash ~ '^\$2[aby]\$') THEN
    RAISE EXCEPTION 'secret hash must be an argon2id or bcrypt hash (never the secret itself)' USING ERRCODE = '22023';
  END IF;
  PERFORM idgraph._check_scopes(p_scopes);
  IF p_expires_at IS NOT NULL AND p_expires_at <= now() THEN
    RAISE EXCEPTION 'expiry must be in the future' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
    INSERT INTO idgraph.api_keys AS k (key_id, name, secret_hash, scopes, team, expires_at, created_by)
    VALUES (p_key_id, p_name, p_secret_hash, p_scopes, nullif(btrim(p_team), ''),
            coalesce(p_expires_at, now() + interval '90 days'), session_user)
    RETURNING k.key_id, k.name, k.scopes, k.team, k.created_at, k.expires_at;
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'key id % exists already', p_key_id USING ERRCODE = '23505';
END
$$;
COMMENT ON FUNCTION idgraph.api_key_create(text, text, text, text[], text, timestamptz) IS
$$Stores a new API key (its id and the argon2id/bcrypt hash of its secret), expiring at p_expires_at (NULL: in 90 days). Use `idgraph-facade keys create`, which generates the key.
Example: SELECT * FROM idgraph.api_key_create('0123456789abcdef', 'portal', '$argon2id$…', ARRAY['graph:read'], 'sre');$$;

CREATE FUNCTION idgraph.api_key_rotate(p_key_id text, p_new_key_id text, p_secret_hash text,
                                       p_grace interval DEFAULT interval '7 days',
                                       p_expires_at timestamptz DEFAULT NULL)
RETURNS TABLE (key_id text, name text, scopes text[], team text, expires_at timestamptz,
               replaces text, replaced_key_expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_old idgraph.api_keys;
  v_old_expires timestamptz;
BEGIN
  IF p_grace IS NULL OR p_grace < interval '0' OR p_grace > interval '30 days' THEN
    RAISE EXCEPTION 'grace period must be between 0 and 30 days, got %', coalesce(p_grace::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  SELECT * INTO v_old FROM idgraph.api_keys k WHERE k.key_id = p_key_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'API key % does not exist', coalesce(quote_literal(p_key_id), 'NULL') USING ERRCODE = 'P0002';
  END IF;
  IF v_old.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'API key % is revoked; create a new key instead', p_key_id USING ERRCODE = '55000';
  END IF;
  IF v_old.replaced_by IS NOT NULL THEN
    RAISE EXCEPTION 'API key % was rotated already; its successor is %', p_key_id, v_old.replaced_by
      USING ERRCODE = '55000';
  END IF;
  -- The successor goes through the same validation as any new key.
  PERFORM idgraph.api_key_create(p_new_key_id, v_old.name, p_secret_hash, v_old.scopes, v_old.team, p_expires_at);
  UPDATE idgraph.api_keys k SET replaced_by = p_new_key_id, expires_at = least(k.expires_at, now() + p_grace)
   WHERE k.key_id = p_key_id
  RETURNING k.expires_at INTO v_old_expires;
  RETURN QUERY
    SELECT n.key_id, n.name, n.scopes, n.team, n.expires_at, p_key_id, v_old_expires
      FROM idgraph.api_keys n WHERE n.key_id = p_new_key_id;
END
$$;
COMMENT ON FUNCTION idgraph.api_key_rotate(text, text, text, interval, timestamptz) IS
$$Issues a successor to a key (same name, scopes and team; new id and secret hash, expiring at p_expires_at, NULL: in 90 days); the old key keeps working for p_grace (0 to 30 days, default 7), then expires. Use `idgraph-facade keys rotate`, which generates the key.
Example: SELECT * FROM idgraph.api_key_rotate('0123456789abcdef', 'fedcba9876543210', '$argon2id$…', interval '24 hours');$$;

CREATE FUNCTION idgraph.api_key_lookup(p_key_id text)
RETURNS TABLE (key_id text, name text, secret_hash text, scopes text[], team text,
               expires_at timestamptz, revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT k.key_id, k.name, k.secret_hash, k.scopes, k.team, k.expires_at, k.revoked_at
    FROM idgraph.api_keys k WHERE k.key_id = p_key_id
$$;
COMMENT ON FUNCTION idgraph.api_key_lookup(text) IS
$$One key by id, with its hash, for the facade to verify a presented secret (primary-key lookup). Facade role only.
Example: SELECT * FROM idgraph.api_key_lookup('0123456789abcdef');$$;

CREATE FUNCTION idgraph.api_key_revoke(p_key_id text)
RETURNS TABLE (key_id text, revoked_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY
    UPDATE idgraph.api_keys k SET revoked_at = coalesce(k.revoked_at, now()),
                                  revoked_by = coalesce(k.revoked_by, session_user)
     WHERE k.key_id = p_key_id
    RETURNING k.key_id, k.revoked_at;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'API key % does not exist', coalesce(quote_literal(p_key_id), 'NULL') USING ERRCODE = 'P0002';
  END IF;
END
$$;
COMMENT ON FUNCTION idgraph.api_key_revoke(text) IS
$$Revokes a key (idempotent); the facade refuses it once its cached copy expires (at most 2 minutes).
Example: SELECT * FROM idgraph.api_key_revoke('0123456789abcdef');$$;

CREATE FUNCTION idgraph.api_keys_list()
RETURNS TABLE (key_id text, name text, scopes text[], team text, created_at timestamptz, created_by text,
               expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT k.key_id, k.name, k.scopes, k.team, k.created_at, k.created_by, k.expires_at, k.revoked_at, k.last_used_at
    FROM idgraph.api_keys k ORDER BY k.created_at, k.key_id
$$;
COMMENT ON FUNCTION idgraph.api_keys_list() IS
  'Every API key without its hash. Example: SELECT * FROM idgraph.api_keys_list();';

CREATE FUNCTION idgraph.api_key_touch(p_key_id text) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE idgraph.api_keys k SET last_used_at = now()
   WHERE k.key_id = p_key_id AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
$$;
COMMENT ON FUNCTION idgraph.api_key_touch(text) IS
  'Records that a key was used (at most once a minute). Called by the facade when it verifies a key. Example: SELECT idgraph.api_key_touch(''0123456789abcdef'');';

-- ---------------------------------------------------------------------------
-- Service catalogue reads for the facade's GET /api/v1/services (cursor pages) and
-- GET /api/v1/services/{id}. Keyset pagination on service_id: stable under inserts.
-- ---------------------------------------------------------------------------

CREATE FUNCTION idgraph.services_page(p_after text DEFAULT NULL, p_limit integer DEFAULT 100)
RETURNS TABLE (service_id text, team text, criticality text, kind text, availability float8,
               published_sla float8, discovered boolean, metadata jsonb, created_at timestamptz,
               updated_at timestamptz, last_seen_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_limit IS NULL OR p_limit < 1 OR p_limit > 1000 THEN
    RAISE EXCEPTION 'limit must be between 1 and 1000, got %', coalesce(p_limit::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
    SELECT s.service_id, s.team, s.criticality, s.kind, s.availability, s.published_sla, s.discovered,
           s.metadata, s.created_at, s.updated_at, s.last_seen_at
      FROM idgraph.services s
     WHERE p_after IS NULL OR s.service_id > p_after
     ORDER BY s.service_id
     LIMIT p_limit;
END
$$;
COMMENT ON FUNCTION idgraph.services_page(text, integer) IS
$$Registered services in service_id order, p_limit (1..1000) after p_after: keyset pages for the facade's list.
Example: SELECT * FROM idgraph.services_page(NULL, 100);$$;

CREATE FUNCTION idgraph.service(p_service text)
RETURNS TABLE (service_id text, team text, criticality text, kind text, availability float8,
               published_sla float8, discovered boolean, metadata jsonb, created_at timestamptz,
               updated_at timestamptz, last_seen_at timestamptz, dependencies bigint, dependents bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_service IS NULL THEN
    RAISE EXCEPTION 'service must not be NULL' USING ERRCODE = '22004';
  END IF;
  RETURN QUERY
    SELECT s.service_id, s.team, s.criticality, s.kind, s.availability, s.published_sla, s.discovered,
           s.metadata, s.created_at, s.updated_at, s.last_seen_at,
           (SELECT count(*) FROM idgraph.effective_edges e WHERE e.source_pk = s.service_pk AND NOT e.stale),
           (SELECT count(*) FROM idgraph.effective_edges e WHERE e.target_pk = s.service_pk AND NOT e.stale)
      FROM idgraph.services s WHERE s.service_id = p_service;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'service % does not exist', quote_literal(left(p_service, 255)) USING ERRCODE = 'P0002';
  END IF;
END
$$;
COMMENT ON FUNCTION idgraph.service(text) IS
$$One service with its number of (non-stale, effective) dependencies and dependents; P0002 when unknown.
Example: SELECT * FROM idgraph.service('checkout');$$;
