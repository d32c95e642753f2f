-- idgraph 0.1.0 -> 0.2.0. Run by ALTER EXTENSION idgraph UPDATE TO '0.2.0' (sqitch change
-- extension_idgraph_0_2_0 does it for DBAs). Every change to the extension's SQL since
-- 0.1.0 is here, in the same order as in the fresh install, with the rows of any table
-- whose layout changes carried across; tests/upgrade.sh proves the result equals a fresh
-- 0.2.0 install, row for row. One section per concern, each headed by its sql/ file.
\echo Use "ALTER EXTENSION idgraph UPDATE TO '0.2.0'" to load this file. \quit

-- == releases (sql/releases.sql) ==
CREATE TABLE idgraph.releases (
    version       text NOT NULL,
    installed_at  timestamptz NOT NULL DEFAULT now(),
    upgraded_from text,
    PRIMARY KEY (version, installed_at)
);
COMMENT ON TABLE idgraph.releases IS
  'Releases of idgraph this database has run: one row per install (upgraded_from NULL) or upgrade.';
INSERT INTO idgraph.releases (version, upgraded_from) VALUES ('0.2.0', '0.1.0');
REVOKE ALL ON TABLE idgraph.releases FROM PUBLIC;

-- == trust boundaries (issue 11): who acted, one door per write, register_target ==
-- The principal door and its readers (pg_ext/src/api/actor.rs), as pgrx generates them.
-- idgraph::api::actor::set_principal
CREATE OR REPLACE FUNCTION "set_principal"(
	"p_principal" TEXT, /* Option < & str > */
	"p_team" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS void
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'set_principal_wrapper';
-- idgraph::api::actor::_principal
CREATE OR REPLACE FUNCTION "_principal"() RETURNS TEXT /* Option < String > */
STRICT STABLE PARALLEL RESTRICTED
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_principal_wrapper';
-- idgraph::api::actor::_principal_team
CREATE OR REPLACE FUNCTION "_principal_team"() RETURNS TEXT /* Option < String > */
STRICT STABLE PARALLEL RESTRICTED
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_principal_team_wrapper';
-- idgraph::api::actor::_invoker
CREATE OR REPLACE FUNCTION "_invoker"() RETURNS oid /* pg_sys :: Oid */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_invoker_wrapper';
REVOKE ALL ON FUNCTION idgraph.set_principal(text, text), idgraph._principal(), idgraph._principal_team(), idgraph._invoker() FROM PUBLIC;
-- ingest_graph: now the SECURITY DEFINER door (its internals are revoked by sqitch grants_doors).
-- idgraph::api::graph::ingest_graph
CREATE OR REPLACE FUNCTION "ingest_graph"(
	"p_doc" jsonb /* JsonB */
) RETURNS jsonb /* JsonB */
STRICT VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ingest_graph_wrapper';
-- Who acted is never the caller's word: the names callers pass are kept as claims beside
-- the real identity (new columns, NULL for every 0.1.0 row: 0.1.0 recorded no claims).
ALTER TABLE idgraph.submissions ADD COLUMN created_by_claim text;
ALTER TABLE idgraph.circular_dependency_alerts ADD COLUMN acknowledged_by_claim text;
ALTER TABLE idgraph.slo_audit_log ADD COLUMN actor_claim text;
CREATE OR REPLACE FUNCTION idgraph._actor() RETURNS text
LANGUAGE sql STABLE PARALLEL RESTRICTED
AS $$ SELECT coalesce(idgraph._principal(), session_user::text) $$;
CREATE OR REPLACE FUNCTION idgraph.register_target(p_table regclass, p_column name)
RETURNS TABLE (target_id integer, table_name regclass, column_name name, alloc_seq regclass, next_id bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  v_type regtype;
  v_seq regclass;
  v_max bigint;
  v_start bigint;
  v_existing idgraph.targets;
  v_id integer;
  v_relkind char;
  v_next bigint;
  v_caller oid := idgraph._invoker();
  v_own_seq regclass;
BEGIN
  IF p_table IS NULL OR p_column IS NULL THEN
    RAISE EXCEPTION 'table and column must not be NULL' USING ERRCODE = '22004';
  END IF;
  SELECT c.relkind INTO v_relkind FROM pg_class c WHERE c.oid = p_table;
  IF v_relkind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '% is not a table', p_table USING ERRCODE = '42809';
  END IF;
  SELECT a.atttypid::regtype INTO v_type FROM pg_attribute a
   WHERE a.attrelid = p_table AND a.attname = p_column AND a.attnum > 0 AND NOT a.attisdropped;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'column % does not exist in %', quote_ident(p_column), p_table USING ERRCODE = '42703';
  END IF;
  IF v_type NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
    RAISE EXCEPTION 'column %.% is %, ids can only be allocated for integer columns', p_table, quote_ident(p_column), v_type
      USING ERRCODE = '42804';
  END IF;

  -- The caller's own privileges, not the definer's: allocation writes ids for the column
  -- and moves its sequence, so the caller must own the table or may UPDATE the column,
  -- and likewise own or may UPDATE the column's sequence.
  v_own_seq := pg_get_serial_sequence(p_table::text, p_column)::regclass;
  IF NOT (pg_has_role(v_caller, (SELECT c.relowner FROM pg_class c WHERE c.oid = p_table), 'USAGE')
          OR has_column_privilege(v_caller, p_table, p_column, 'UPDATE')) THEN
    RAISE EXCEPTION 'permission denied: % may not register %.% for allocation', pg_get_userbyid(v_caller), p_table, quote_ident(p_column)
      USING ERRCODE = '42501', HINT = 'Registering needs ownership of the table or UPDATE on the column (and on its sequence).';
  END IF;
  IF v_own_seq IS NOT NULL
     AND NOT (pg_has_role(v_caller, (SELECT c.relowner FROM pg_class c WHERE c.oid = v_own_seq), 'USAGE')
              OR has_sequence_privilege(v_caller, v_own_seq, 'UPDATE')) THEN
    RAISE EXCEPTION 'permission denied: % may not move sequence % of %.%', pg_get_userbyid(v_caller), v_own_seq, p_table, quote_ident(p_column)
      USING ERRCODE = '42501', HINT = 'Registering needs ownership of the sequence or UPDATE on it.';
  END IF;

  -- Keep legacy writers out while we read max() and position the sequence, so that no
  -- id inserted concurrently by hand slips under the starting point.
  EXECUTE format('LOCK TABLE %s IN SHARE MODE', p_table);
  EXECUTE format('SELECT max(%I)::bigint FROM %s', p_column, p_table) INTO v_max;
  v_max := coalesce(v_max, 0);
  v_seq := v_own_seq;

  SELECT * INTO v_existing FROM idgraph.targets t WHERE t.table_oid = p_table AND t.column_name = p_column;
  IF FOUND THEN
    v_seq := v_existing.alloc_seq;
  END IF;

  IF v_seq IS NOT NULL THEN
    -- Move the sequence above every id already in the column (never backwards).
    EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM %s', v_seq) INTO v_start;
    IF v_start < v_max THEN
      PERFORM setval(v_seq, v_max, true);
      v_start := v_max;
    END IF;
  END IF;

  IF v_existing.target_id IS NOT NULL THEN
    v_id := v_existing.target_id;
  ELSE
    v_id := nextval('idgraph.targets_target_id_seq');
    IF v_seq IS NULL THEN
      -- No sequence on the column: idgraph keeps one for it, starting above max(column).
      EXECUTE format('CREATE SEQUENCE idgraph_alloc.%I AS bigint START WITH %s', 'target_' || v_id, v_max + 1);
      v_seq := format('idgraph_alloc.%I', 'target_' || v_id)::regclass;
    END IF;
    INSERT INTO idgraph.targets (target_id, table_oid, column_name, alloc_seq, seq_is_columns, start_above)
    VALUES (v_id, p_table, p_column, v_seq, v_existing.target_id IS NULL AND v_start IS NOT NULL, greatest(v_max, coalesce(v_start, 0)));
    PERFORM idgraph._audit('register_target', NULL, v_id, NULL, NULL, true, 0, 0,
                           jsonb_build_object('table', p_table::text, 'column', p_column, 'sequence', v_seq::text,
                                              'start_above', v_max), t0);
  END IF;
  EXECUTE format('SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM %s', v_seq) INTO v_next;

  RETURN QUERY
    SELECT t.target_id, t.table_oid, t.column_name, t.alloc_seq, v_next
      FROM idgraph.targets t WHERE t.target_id = v_id;
END
$$;
COMMENT ON FUNCTION idgraph.register_target(regclass, name) IS
$$Whitelists (table, column) for allocation; allocation starts above max(column) and the column's sequence. Idempotent. Admin only, and only for a table the caller owns or may UPDATE the column of (42501 otherwise).
Example: SELECT * FROM idgraph.register_target('public.tbl_sites', 'site_id');$$;
CREATE OR REPLACE FUNCTION idgraph.create_submission(
    p_name text, p_source_system text, p_data_type text,
    p_notes text DEFAULT NULL, p_created_by text DEFAULT current_user)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  v_id uuid;
BEGIN
  IF p_name IS NULL OR p_source_system IS NULL OR p_data_type IS NULL THEN
    RAISE EXCEPTION 'submission name, source_system and data_type must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF length(btrim(p_name)) = 0 OR length(p_name) > 200 THEN
    RAISE EXCEPTION 'submission name must be 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  IF length(btrim(p_source_system)) = 0 OR length(p_source_system) > 200
     OR length(btrim(p_data_type)) = 0 OR length(p_data_type) > 200 THEN
    RAISE EXCEPTION 'source_system and data_type must be 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  -- created_by is who really acted; p_created_by is the caller's word, kept as a claim
  -- when it says something else.
  INSERT INTO idgraph.submissions (submission_name, source_system, data_type, notes, created_by, created_by_team,
                                   created_by_claim)
  VALUES (p_name, p_source_system, p_data_type, p_notes, idgraph._actor(), idgraph._principal_team(),
          NULLIF(p_created_by, idgraph._actor()))
  ON CONFLICT (submission_name) DO NOTHING
  RETURNING submission_id INTO v_id;
  IF v_id IS NULL THEN
    RAISE EXCEPTION 'a submission named % already exists', quote_literal(p_name)
      USING ERRCODE = '23505', HINT = 'Submission names are unique; pick another name.';
  END IF;
  PERFORM idgraph._audit('create_submission', v_id, NULL, NULL, NULL, NULL, 0, 0,
                         jsonb_build_object('name', p_name, 'source_system', p_source_system, 'data_type', p_data_type), t0);
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION idgraph.create_submission(text, text, text, text, text) IS
$$Creates a pending submission and returns its uuid; 23505 when the name is taken.
Example: SELECT idgraph.create_submission('sites-2026-11', 'arbodat', 'sites');$$;
CREATE OR REPLACE FUNCTION idgraph.ensure_submission(p_submission uuid, p_name text,
                                          p_source_system text DEFAULT 'sead_utility', p_data_type text DEFAULT 'unspecified')
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  v_name text;
BEGIN
  IF p_submission IS NULL THEN
    RAISE EXCEPTION 'submission uuid must not be NULL' USING ERRCODE = '22004';
  END IF;
  SELECT s.submission_name INTO v_name FROM idgraph.submissions s WHERE s.submission_id = p_submission;
  IF FOUND THEN
    IF p_name IS NOT NULL AND p_name <> v_name THEN
      RAISE EXCEPTION 'submission % is named %, not %', p_submission, quote_literal(v_name), quote_literal(p_name)
        USING ERRCODE = '22023';
    END IF;
    RETURN p_submission;
  END IF;
  IF p_name IS NULL OR length(btrim(p_name)) = 0 OR length(p_name) > 200 THEN
    RAISE EXCEPTION 'a new submission needs a name of 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  INSERT INTO idgraph.submissions (submission_id, submission_name, source_system, data_type, created_by, created_by_team)
  VALUES (p_submission, p_name, coalesce(p_source_system, 'sead_utility'), coalesce(p_data_type, 'unspecified'),
          idgraph._actor(), idgraph._principal_team())
  ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    -- Lost a race for the same uuid (fine if the name matches) or the name is taken.
    SELECT s.submission_name INTO v_name FROM idgraph.submissions s WHERE s.submission_id = p_submission;
    IF v_name IS DISTINCT FROM p_name THEN
      RAISE EXCEPTION 'a submission named % already exists', quote_literal(p_name) USING ERRCODE = '23505';
    END IF;
    RETURN p_submission;
  END IF;
  PERFORM idgraph._audit('create_submission', p_submission, NULL, NULL, NULL, NULL, 0, 0,
                         jsonb_build_object('name', p_name, 'source_system', p_source_system, 'data_type', p_data_type), t0);
  RETURN p_submission;
END
$$;
COMMENT ON FUNCTION idgraph.ensure_submission(uuid, text, text, text) IS
$$Returns the submission with this uuid, creating it (pending) under this name when it does not exist yet.
Example: SELECT idgraph.ensure_submission('…'::uuid, 'sites-2026-11');$$;
CREATE OR REPLACE FUNCTION idgraph.acknowledge_cycle(p_alert_id bigint, p_by text DEFAULT NULL)
RETURNS idgraph.circular_dependency_alerts
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v idgraph.circular_dependency_alerts;
BEGIN
  IF p_alert_id IS NULL THEN
    RAISE EXCEPTION 'alert id must not be NULL' USING ERRCODE = '22004';
  END IF;
  UPDATE idgraph.circular_dependency_alerts a
     SET status = 'acknowledged', acknowledged_at = now(), acknowledged_by = idgraph._actor(),
         acknowledged_by_claim = NULLIF(p_by, idgraph._actor())
   WHERE a.alert_id = p_alert_id AND a.status = 'open'
  RETURNING a.* INTO v;
  IF NOT FOUND THEN
    IF EXISTS (SELECT 1 FROM idgraph.circular_dependency_alerts a WHERE a.alert_id = p_alert_id) THEN
      RAISE EXCEPTION 'alert % is not open', p_alert_id USING ERRCODE = '55000';
    END IF;
    RAISE EXCEPTION 'alert % does not exist', p_alert_id USING ERRCODE = 'P0002';
  END IF;
  RETURN v;
END
$$;
COMMENT ON FUNCTION idgraph.acknowledge_cycle(bigint, text) IS
  'Acknowledges an open circular-dependency alert. Example: SELECT * FROM idgraph.acknowledge_cycle(1);';
CREATE OR REPLACE FUNCTION idgraph.set_slo(p_service text, p_availability_target float8,
                                p_latency_p95_ms float8 DEFAULT NULL, p_latency_p99_ms float8 DEFAULT NULL,
                                p_rationale text DEFAULT NULL, p_actor text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_pk integer := idgraph._service_pk(p_service);
  v_old jsonb;
  v_new jsonb;
  v_actor text := idgraph._actor();   -- who really acted; p_actor is kept as a claim
BEGIN
  PERFORM idgraph._check_fraction(p_availability_target, 'availability target');
  PERFORM idgraph._graph_write_lock();
  IF p_availability_target IN (0, 1) THEN
    RAISE EXCEPTION 'availability target must be strictly between 0 and 1, got %', p_availability_target USING ERRCODE = '22023';
  END IF;
  IF p_latency_p95_ms <= 0 OR p_latency_p99_ms <= 0 OR p_latency_p99_ms < p_latency_p95_ms THEN
    RAISE EXCEPTION 'latency targets must be positive and p99 >= p95' USING ERRCODE = '22023';
  END IF;
  SELECT to_jsonb(s) - 'service_pk' INTO v_old FROM idgraph.slos s WHERE s.service_pk = v_pk FOR UPDATE;
  INSERT INTO idgraph.slos AS s (service_pk, availability_target, latency_p95_ms, latency_p99_ms, set_by, rationale)
  VALUES (v_pk, p_availability_target, p_latency_p95_ms, p_latency_p99_ms, v_actor, p_rationale)
  ON CONFLICT (service_pk) DO UPDATE
     SET availability_target = excluded.availability_target, latency_p95_ms = excluded.latency_p95_ms,
         latency_p99_ms = excluded.latency_p99_ms, set_by = excluded.set_by, rationale = excluded.rationale,
         updated_at = now()
  RETURNING to_jsonb(s) - 'service_pk' INTO v_new;
  INSERT INTO idgraph.slo_audit_log (service_id, action, old_value, new_value, actor, rationale, actor_claim)
  VALUES (p_service, 'set', v_old, v_new, v_actor, p_rationale, NULLIF(p_actor, v_actor));
  RETURN jsonb_build_object('service_id', p_service) || v_new;
END
$$;
COMMENT ON FUNCTION idgraph.set_slo(text, float8, float8, float8, text, text) IS
  'Sets a service''s active SLO (availability fraction, optional latency ms) with actor and rationale; history in idgraph.slo_audit_log. Example: SELECT idgraph.set_slo(''checkout'', 0.999, 300, 800, ''Q4 review'');';
CREATE OR REPLACE FUNCTION idgraph.audit_seal_digests(p_after_seal_id bigint DEFAULT 0, p_limit integer DEFAULT 1000)
RETURNS TABLE (seal_id bigint, sealed_at timestamptz, system_identifier bigint, row_count bigint,
               prev_digest text, digest text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_after_seal_id IS NULL OR p_limit IS NULL THEN
    RAISE EXCEPTION 'after_seal_id and limit must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF p_limit NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION 'limit must be 1 to 10000, got %', p_limit USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
    SELECT s.seal_id, s.sealed_at, s.sysid, s.row_count, encode(s.prev_digest, 'hex'), encode(s.digest, 'hex')
      FROM idgraph.audit_seals s
     WHERE s.seal_id > p_after_seal_id
     ORDER BY s.seal_id
     LIMIT p_limit;
END
$$;
COMMENT ON FUNCTION idgraph.audit_seal_digests(bigint, integer) IS
$$The audit seal chain as a stream to anchor outside the database: each seal's digest = sha256(previous digest || the row hashes of the rows it sealed, in audit_id order), hex. Page with the last seal_id seen. Admin only.
Example: SELECT * FROM idgraph.audit_seal_digests(0, 100);$$;
REVOKE ALL ON FUNCTION idgraph.audit_seal_digests(bigint, integer) FROM PUBLIC;

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
