-- idgraph 0.1.0 -> 0.2.0. Run by ALTER EXTENSION idgraph UPDATE TO '0.2.0' (sqitch change
-- extension_idgraph_0_2_0 does it for DBAs). Every change to the extension's SQL since
-- 0.1.0 is here, in the same order as in the fresh install, with the rows of any table
-- whose layout changes carried across; tests/upgrade.sh proves the result equals a fresh
-- 0.2.0 install, row for row. One section per concern, each headed by its sql/ file.
\echo Use "ALTER EXTENSION idgraph UPDATE TO '0.2.0'" to load this file. \quit

-- == facade: api keys ==
-- sql/facade.sql. Keys expire (seed 000 §2): expires_at becomes NOT NULL with a default
-- of 90 days, and a key of 0.1.0 created without an expiry gets one 90 days from this
-- upgrade (its holders have the usual 14 days' warning header at the end). Keys rotate:
-- replaced_by names a key's successor (the column is added last, as in the fresh
-- install's CREATE TABLE), api_key_rotate issues it.
UPDATE idgraph.api_keys SET expires_at = now() + interval '90 days' WHERE expires_at IS NULL;
ALTER TABLE idgraph.api_keys
  ALTER COLUMN expires_at SET DEFAULT (now() + interval '90 days'),
  ALTER COLUMN expires_at SET NOT NULL,
  ADD COLUMN replaced_by text CHECK (replaced_by ~ '^[0-9a-f]{16}$');
COMMENT ON TABLE idgraph.api_keys IS
  'API keys of the HTTPS facade: argon2id/bcrypt hashes of their secrets, never the secrets. Every key expires (default 90 days); a rotated key names its successor in replaced_by and works until its (shortened) expiry. Managed with idgraph.api_key_create / api_key_rotate / api_key_revoke / api_keys_list.';

CREATE OR REPLACE FUNCTION idgraph.api_key_create(p_key_id text, p_name text, p_secret_hash text, p_scopes text[],
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
-- A fresh install revokes PUBLIC's EXECUTE from every function (finalize.sql); so here.
REVOKE ALL ON FUNCTION idgraph.api_key_rotate(text, text, text, interval, timestamptz) FROM PUBLIC;
