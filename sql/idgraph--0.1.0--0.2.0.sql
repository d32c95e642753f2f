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

-- == slo engine ==
-- sql/graph.sql: set_slo writes source 'manual' on the new columns of idgraph.slos.
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
         source = 'manual', recommendation_id = NULL, selected_tier = NULL, activated_at = now(),
         updated_at = now()
  RETURNING to_jsonb(s) - 'service_pk' INTO v_new;
  INSERT INTO idgraph.slo_audit_log (service_id, action, old_value, new_value, actor, rationale, actor_claim)
  VALUES (p_service, 'set', v_old, v_new, v_actor, p_rationale, NULLIF(p_actor, v_actor));
  RETURN jsonb_build_object('service_id', p_service) || v_new;
END
$$;

-- pg_ext/src/api/slo.rs (as cargo pgrx schema generates them; sql/slo.sql comments them)
-- pg_ext/src/api/slo.rs:49
-- idgraph::api::slo::record_sli
CREATE  FUNCTION "record_sli"(
	"p_doc" jsonb /* JsonB */
) RETURNS jsonb /* JsonB */
STRICT VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'record_sli_wrapper';

-- pg_ext/src/api/slo.rs:189
-- idgraph::api::slo::_slo_compute
CREATE  FUNCTION "_slo_compute"(
	"p_service" TEXT, /* & str */
	"p_sli_type" TEXT, /* & str */
	"p_lookback_days" INT /* i32 */
) RETURNS jsonb /* JsonB */
STRICT STABLE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_slo_compute_wrapper';

-- sql/slo.sql
-- idgraph: the SLO engine (TRD FR-2, FR-5, FR-6, FR-10, FR-11, FR-12). The math runs in
-- Rust (idgraph-core's slo module, through idgraph._slo_compute and idgraph.record_sli);
-- storage, the recommendation cache, the accept/modify/reject lifecycle, auto-approval,
-- burn-rate alert rules and the dashboard are here.
--
-- Units: availability is a fraction everywhere in SQL (0.999); the HTTP API shows percent.
-- SQLSTATEs: 22023 invalid value, 22004 NULL, P0002 unknown service or recommendation,
-- 55000 recommendation superseded or expired, 23505 duplicate rule name, 42501 not granted.

-- Active SLOs remember where they came from (FR-5 active_slos); idgraph.set_slo writes
-- source 'manual'.
ALTER TABLE idgraph.slos
  ADD COLUMN slo_id uuid NOT NULL DEFAULT gen_random_uuid(),
  ADD COLUMN source text NOT NULL DEFAULT 'manual'
    CHECK (source IN ('manual', 'recommendation_accepted', 'recommendation_modified')),
  ADD COLUMN recommendation_id uuid,
  ADD COLUMN selected_tier text CHECK (selected_tier IN ('conservative', 'balanced', 'aggressive')),
  ADD COLUMN activated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE idgraph.slos ADD CONSTRAINT slos_slo_id_key UNIQUE (slo_id);

-- The audit log records FR-5's decisions too.
ALTER TABLE idgraph.slo_audit_log DROP CONSTRAINT slo_audit_log_action_check;
ALTER TABLE idgraph.slo_audit_log ADD CONSTRAINT slo_audit_log_action_check
  CHECK (action IN ('set', 'delete', 'accept', 'modify', 'reject', 'auto_approve', 'expire'));
ALTER TABLE idgraph.slo_audit_log
  ADD COLUMN recommendation_id uuid,
  ADD COLUMN selected_tier text,
  ADD COLUMN modification_delta jsonb;

-- FR-6 pre-computed SLI aggregates: one row per (service, window size, window start).
CREATE TABLE idgraph.sli_aggregates (
    service_pk      integer NOT NULL REFERENCES idgraph.services (service_pk) ON DELETE CASCADE,
    window_size     text NOT NULL CHECK (window_size IN ('1h', '1d')),
    window_start    timestamptz NOT NULL,
    good_events     bigint CHECK (good_events >= 0),
    total_events    bigint CHECK (total_events >= 0),
    latency_p50_ms  float8 CHECK (latency_p50_ms >= 0),
    latency_p95_ms  float8 CHECK (latency_p95_ms >= 0),
    latency_p99_ms  float8 CHECK (latency_p99_ms >= 0),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service_pk, window_size, window_start),
    CHECK (good_events <= total_events),
    CHECK ((good_events IS NULL) = (total_events IS NULL)),
    -- 1h windows start on the hour, 1d windows at midnight UTC
    CHECK (extract(epoch FROM window_start)::numeric % CASE window_size WHEN '1h' THEN 3600 ELSE 86400 END = 0)
);
CREATE INDEX sli_aggregates_window_idx ON idgraph.sli_aggregates (window_size, window_start);
COMMENT ON TABLE idgraph.sli_aggregates IS
  'SLI history per service (FR-6): availability as good/total events and latency p50/p95/p99 (ms) per 1h or 1d window. Written by idgraph.record_sli; retention by idgraph.apply_sli_retention (1h: 90 days, 1d: 1 year).';

-- FR-2 / FR-5 stored recommendations: the cache and what decisions refer to.
CREATE TABLE idgraph.slo_recommendations (
    recommendation_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    service_pk        integer NOT NULL REFERENCES idgraph.services (service_pk) ON DELETE CASCADE,
    sli_type          text NOT NULL CHECK (sli_type IN ('all', 'availability', 'latency')),
    requested_lookback_days integer NOT NULL CHECK (requested_lookback_days BETWEEN 7 AND 365),
    lookback_days     integer NOT NULL,
    lookback_start    timestamptz NOT NULL,
    lookback_end      timestamptz NOT NULL,
    body              jsonb NOT NULL,
    confidence        float8,
    graph_version     bigint NOT NULL,
    sli_fingerprint   jsonb NOT NULL,
    generated_at      timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'superseded', 'expired')),
    superseded_at     timestamptz,
    decision          text CHECK (decision IN ('accepted', 'modified', 'rejected', 'auto_approved')),
    decided_at        timestamptz,
    decided_by        text,
    auto_approval     jsonb
);
CREATE UNIQUE INDEX slo_recommendations_active_idx
    ON idgraph.slo_recommendations (service_pk, sli_type, requested_lookback_days) WHERE status = 'active';
CREATE INDEX slo_recommendations_service_idx ON idgraph.slo_recommendations (service_pk, generated_at);
COMMENT ON TABLE idgraph.slo_recommendations IS
  'Generated SLO recommendations (FR-2 cache, FR-5 lifecycle): status active -> superseded (a newer one) or expired (24 h); decision accepted/modified/rejected/auto_approved.';

-- FR-11 auto-approval rules (admins only).
CREATE TABLE idgraph.slo_auto_approval_rules (
    rule_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
    conditions  jsonb NOT NULL CHECK (jsonb_typeof(conditions) = 'object'),
    enabled     boolean NOT NULL DEFAULT false,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE idgraph.slo_auto_approval_rules IS
  'FR-11: conditions {"criticality": [...], "teams": [...], "confidence_min": 0.85, "tier": "balanced"}; an enabled rule that matches a freshly generated recommendation accepts it (audit action auto_approve).';

SELECT pg_catalog.pg_extension_config_dump('idgraph.sli_aggregates', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.slo_recommendations', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.slo_auto_approval_rules', '');

-- ---------------------------------------------------------------------------------------
-- Who acted in SLO decisions: the one place the SLO engine asks. idgraph._actor() is the
-- principal the facade authenticated (idgraph.set_principal) or the session user, never a
-- client-supplied value.
CREATE FUNCTION idgraph._slo_actor() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT idgraph._actor() $$;
COMMENT ON FUNCTION idgraph._slo_actor() IS
  'Internal: the actor of SLO decisions (idgraph._actor(): the authenticated facade principal, else the session user).';

-- ---------------------------------------------------------------------------------------
-- SLI history (FR-6)

-- Applies a validated document (see idgraph.record_sli): the last occurrence of a window
-- in the document wins; unchanged rows are not rewritten.
CREATE FUNCTION idgraph._record_sli_apply(p_rows jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_inserted integer := 0;
  v_updated integer := 0;
  v_received integer := jsonb_array_length(coalesce(p_rows, '[]'));
  v_services integer;
BEGIN
  WITH doc AS (
    SELECT DISTINCT ON (s.service_pk, r.window, r.start)
           s.service_pk, r.window AS window_size, to_timestamp(r.start) AS window_start,
           r.good_events, r.total_events, r.latency_p50_ms, r.latency_p95_ms, r.latency_p99_ms
      FROM jsonb_array_elements(coalesce(p_rows, '[]')) WITH ORDINALITY AS e(v, ord)
           CROSS JOIN LATERAL jsonb_to_record(e.v) AS r(service_id text, "window" text, start bigint,
               good_events bigint, total_events bigint, latency_p50_ms float8, latency_p95_ms float8,
               latency_p99_ms float8)
           JOIN idgraph.services s ON s.service_id = r.service_id
     ORDER BY s.service_pk, r.window, r.start, e.ord DESC
  ), up AS (
    INSERT INTO idgraph.sli_aggregates AS a (service_pk, window_size, window_start, good_events, total_events,
                                             latency_p50_ms, latency_p95_ms, latency_p99_ms)
    SELECT d.service_pk, d.window_size, d.window_start, d.good_events, d.total_events,
           d.latency_p50_ms, d.latency_p95_ms, d.latency_p99_ms
      FROM doc d
    ON CONFLICT (service_pk, window_size, window_start) DO UPDATE
       SET good_events = excluded.good_events, total_events = excluded.total_events,
           latency_p50_ms = excluded.latency_p50_ms, latency_p95_ms = excluded.latency_p95_ms,
           latency_p99_ms = excluded.latency_p99_ms, recorded_at = now()
     WHERE (a.good_events, a.total_events, a.latency_p50_ms, a.latency_p95_ms, a.latency_p99_ms)
           IS DISTINCT FROM
           (excluded.good_events, excluded.total_events, excluded.latency_p50_ms, excluded.latency_p95_ms,
            excluded.latency_p99_ms)
    RETURNING (a.xmax = 0) AS inserted, a.service_pk
  )
  SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
    INTO v_inserted, v_updated FROM up;
  SELECT count(DISTINCT x->>'service_id') INTO v_services FROM jsonb_array_elements(coalesce(p_rows, '[]')) x;
  RETURN jsonb_build_object('received', v_received, 'services', v_services,
                            'inserted', v_inserted, 'updated', v_updated,
                            'unchanged', v_received - v_inserted - v_updated);
END
$$;
COMMENT ON FUNCTION idgraph._record_sli_apply(jsonb) IS
  'Internal: writes validated SLI windows (called by idgraph.record_sli).';

CREATE FUNCTION idgraph.apply_sli_retention() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_1h integer;
  v_1d integer;
  v_expired integer;
  v_purged integer;
BEGIN
  DELETE FROM idgraph.sli_aggregates a WHERE a.window_size = '1h' AND a.window_start < now() - interval '90 days';
  GET DIAGNOSTICS v_1h = ROW_COUNT;
  DELETE FROM idgraph.sli_aggregates a WHERE a.window_size = '1d' AND a.window_start < now() - interval '1 year';
  GET DIAGNOSTICS v_1d = ROW_COUNT;
  UPDATE idgraph.slo_recommendations r SET status = 'expired'
   WHERE r.status = 'active' AND r.expires_at <= now();
  GET DIAGNOSTICS v_expired = ROW_COUNT;
  DELETE FROM idgraph.slo_recommendations r
   WHERE r.status IN ('superseded', 'expired') AND r.generated_at < now() - interval '90 days'
     AND NOT EXISTS (SELECT 1 FROM idgraph.slos s WHERE s.recommendation_id = r.recommendation_id);
  GET DIAGNOSTICS v_purged = ROW_COUNT;
  RETURN jsonb_build_object('deleted_1h_windows', v_1h, 'deleted_1d_windows', v_1d,
                            'expired_recommendations', v_expired, 'purged_recommendations', v_purged);
END
$$;
COMMENT ON FUNCTION idgraph.apply_sli_retention() IS
  'FR-6 retention: deletes 1h SLI windows older than 90 days and 1d windows older than 1 year, marks recommendations past expires_at expired and purges superseded/expired ones older than 90 days (unless an active SLO refers to them). Run it hourly, e.g. with pg_cron: SELECT cron.schedule(''idgraph-sli-retention'', ''17 * * * *'', $c$SELECT idgraph.apply_sli_retention()$c$); Example: SELECT idgraph.apply_sli_retention();';

-- ---------------------------------------------------------------------------------------
-- Recommendations (FR-2): cache

-- What the stored recommendation was computed from, to see whether the data moved: the
-- windows in the lookback ending at the start of the current hour.
CREATE FUNCTION idgraph._sli_fingerprint(p_service_pk integer, p_days integer) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
           'windows', count(*),
           'total_events', coalesce(sum(a.total_events), 0),
           'bad_events', coalesce(sum(a.total_events - a.good_events), 0),
           'latency_windows', count(a.latency_p99_ms),
           'latency_p99_sum', coalesce(sum(a.latency_p99_ms), 0),
           'last_recorded_at', max(a.recorded_at))
    FROM idgraph.sli_aggregates a
   WHERE a.service_pk = p_service_pk
     AND a.window_start >= to_timestamp(floor(extract(epoch FROM now()) / 3600) * 3600) - make_interval(days => p_days)
     AND a.window_start < to_timestamp(floor(extract(epoch FROM now()) / 3600) * 3600)
$$;

-- The SLI data moved by more than 5%: the number of windows, the number of events, the
-- error ratio (bad / total events) or the mean window p99 latency changed by more than 5%
-- of its earlier value (any change from zero counts).
CREATE FUNCTION idgraph._sli_moved(p_old jsonb, p_new jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH v AS (
    SELECT (p_old->>'windows')::float8 AS ow, (p_new->>'windows')::float8 AS nw,
           (p_old->>'total_events')::float8 AS ot, (p_new->>'total_events')::float8 AS nt,
           CASE WHEN (p_old->>'total_events')::float8 > 0
                THEN (p_old->>'bad_events')::float8 / (p_old->>'total_events')::float8 ELSE 0 END AS oe,
           CASE WHEN (p_new->>'total_events')::float8 > 0
                THEN (p_new->>'bad_events')::float8 / (p_new->>'total_events')::float8 ELSE 0 END AS ne,
           CASE WHEN (p_old->>'latency_windows')::float8 > 0
                THEN (p_old->>'latency_p99_sum')::float8 / (p_old->>'latency_windows')::float8 ELSE 0 END AS ol,
           CASE WHEN (p_new->>'latency_windows')::float8 > 0
                THEN (p_new->>'latency_p99_sum')::float8 / (p_new->>'latency_windows')::float8 ELSE 0 END AS nl
  )
  SELECT abs(nw - ow) > 0.05 * ow OR abs(nt - ot) > 0.05 * ot OR abs(ne - oe) > 0.05 * oe
         OR abs(nl - ol) > 0.05 * ol
    FROM v
$$;

CREATE FUNCTION idgraph._slo_ts(p timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

-- A stored recommendation as the API returns it.
CREATE FUNCTION idgraph._slo_rec_response(p_rec idgraph.slo_recommendations, p_cached boolean,
                                          p_stale boolean, p_note text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT p_rec.body || jsonb_build_object(
           'recommendation_id', p_rec.recommendation_id,
           'generated_at', idgraph._slo_ts(p_rec.generated_at),
           'expires_at', idgraph._slo_ts(p_rec.expires_at),
           'graph_version', p_rec.graph_version,
           'status', CASE WHEN p_rec.status = 'active' AND p_rec.expires_at <= now() THEN 'expired' ELSE p_rec.status END,
           'decision', p_rec.decision,
           'auto_approval', p_rec.auto_approval,
           'cached', p_cached,
           'stale', p_stale)
         || CASE WHEN p_note IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('stale_reason', p_note) END
$$;

-- The targets of one tier of a stored recommendation: {availability, latency_p99_ms}.
CREATE FUNCTION idgraph._slo_tier_targets(p_body jsonb, p_tier text) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
    'availability', (SELECT x->'tiers'->p_tier->'target' FROM jsonb_array_elements(p_body->'recommendations') x
                      WHERE x->>'sli_type' = 'availability'),
    'latency_p99_ms', (SELECT x->'tiers'->p_tier->'target_ms' FROM jsonb_array_elements(p_body->'recommendations') x
                        WHERE x->>'sli_type' = 'latency'))
$$;

-- Makes a recommendation's targets the active SLO and audits it (accept, modify and
-- auto-approval). Returns the new active SLO. Validates the targets like set_slo.
CREATE FUNCTION idgraph._slo_activate(p_service_pk integer, p_service text, p_recommendation uuid,
                                      p_action text, p_tier text, p_availability float8,
                                      p_latency_p95_ms float8, p_latency_p99_ms float8, p_source text,
                                      p_actor text, p_rationale text, p_delta jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_old jsonb;
  v_new jsonb;
BEGIN
  IF p_availability IS NULL OR p_availability = 'NaN'::float8 OR p_availability <= 0 OR p_availability >= 1 THEN
    RAISE EXCEPTION 'availability target must be a fraction strictly between 0 and 1 (e.g. 0.999), got %', p_availability
      USING ERRCODE = '22023', HINT = 'SQL takes fractions; the HTTP API takes percent (99.9).';
  END IF;
  IF p_latency_p95_ms <= 0 OR p_latency_p99_ms <= 0 OR p_latency_p99_ms < p_latency_p95_ms THEN
    RAISE EXCEPTION 'latency targets must be positive and p99 >= p95' USING ERRCODE = '22023';
  END IF;
  PERFORM idgraph._graph_write_lock();
  SELECT to_jsonb(s) - 'service_pk' INTO v_old FROM idgraph.slos s WHERE s.service_pk = p_service_pk FOR UPDATE;
  INSERT INTO idgraph.slos AS s (service_pk, availability_target, latency_p95_ms, latency_p99_ms, set_by, rationale,
                                 source, recommendation_id, selected_tier, activated_at)
  VALUES (p_service_pk, p_availability, p_latency_p95_ms, p_latency_p99_ms, p_actor, p_rationale,
          p_source, p_recommendation, p_tier, now())
  ON CONFLICT (service_pk) DO UPDATE
     SET availability_target = excluded.availability_target, latency_p95_ms = excluded.latency_p95_ms,
         latency_p99_ms = excluded.latency_p99_ms, set_by = excluded.set_by, rationale = excluded.rationale,
         source = excluded.source, recommendation_id = excluded.recommendation_id,
         selected_tier = excluded.selected_tier, activated_at = now(), updated_at = now()
  RETURNING to_jsonb(s) - 'service_pk' INTO v_new;
  INSERT INTO idgraph.slo_audit_log (service_id, action, old_value, new_value, actor, rationale,
                                     recommendation_id, selected_tier, modification_delta)
  VALUES (p_service, p_action, v_old, v_new, p_actor, p_rationale, p_recommendation, p_tier, p_delta);
  UPDATE idgraph.slo_recommendations r
     SET decision = CASE p_action WHEN 'accept' THEN 'accepted' WHEN 'modify' THEN 'modified' ELSE 'auto_approved' END,
         decided_at = now(), decided_by = p_actor
   WHERE r.recommendation_id = p_recommendation;
  RETURN jsonb_build_object('previous', v_old, 'active', v_new);
END
$$;

-- FR-11: the first enabled rule (by name) whose conditions match accepts a freshly
-- generated recommendation. Never overrides a manual SLO; does nothing when the active
-- SLO already has the tier's targets. Returns what it did, or NULL.
CREATE FUNCTION idgraph._slo_auto_approve(p_recommendation uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_rec idgraph.slo_recommendations;
  v_svc idgraph.services;
  v_slo idgraph.slos;
  r idgraph.slo_auto_approval_rules;
  v_tier text;
  v_t jsonb;
  v_a float8;
  v_p99 float8;
  v_res jsonb;
BEGIN
  SELECT * INTO v_rec FROM idgraph.slo_recommendations x WHERE x.recommendation_id = p_recommendation;
  SELECT * INTO v_svc FROM idgraph.services s WHERE s.service_pk = v_rec.service_pk;
  SELECT * INTO v_slo FROM idgraph.slos s WHERE s.service_pk = v_rec.service_pk;
  IF v_slo.source = 'manual' THEN
    RETURN NULL;
  END IF;
  FOR r IN SELECT * FROM idgraph.slo_auto_approval_rules x WHERE x.enabled ORDER BY x.name LOOP
    CONTINUE WHEN r.conditions ? 'criticality'
      AND NOT coalesce(v_svc.criticality IN (SELECT jsonb_array_elements_text(r.conditions->'criticality')), false);
    CONTINUE WHEN r.conditions ? 'teams'
      AND NOT coalesce(v_svc.team IN (SELECT jsonb_array_elements_text(r.conditions->'teams')), false);
    CONTINUE WHEN r.conditions ? 'confidence_min'
      AND coalesce(v_rec.confidence, 0) < (r.conditions->>'confidence_min')::float8;
    v_tier := coalesce(r.conditions->>'tier', 'balanced');
    v_t := idgraph._slo_tier_targets(v_rec.body, v_tier);
    v_a := coalesce((v_t->>'availability')::float8, v_slo.availability_target);
    v_p99 := (v_t->>'latency_p99_ms')::float8;
    CONTINUE WHEN v_a IS NULL;
    IF v_slo.service_pk IS NOT NULL AND v_slo.availability_target = v_a
       AND v_slo.latency_p99_ms IS NOT DISTINCT FROM v_p99 AND v_slo.latency_p95_ms IS NULL THEN
      RETURN NULL;
    END IF;
    v_res := idgraph._slo_activate(v_rec.service_pk, v_svc.service_id, v_rec.recommendation_id, 'auto_approve',
                                   v_tier, v_a, NULL, v_p99, 'recommendation_accepted',
                                   'auto-approval rule ' || r.name, 'auto-approved by rule ' || r.name, NULL);
    RETURN jsonb_build_object('rule', r.name, 'rule_id', r.rule_id, 'tier', v_tier,
                              'slo_id', v_res->'active'->'slo_id');
  END LOOP;
  RETURN NULL;
END
$$;

CREATE FUNCTION idgraph.slo_recommendations(p_service text, p_sli_type text DEFAULT 'all',
                                            p_lookback_days integer DEFAULT 30,
                                            p_force_regenerate boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_pk integer;
  v_rec idgraph.slo_recommendations;
  v_fp jsonb;
  v_body jsonb;
  v_days integer;
  v_auto jsonb;
BEGIN
  IF p_sli_type IS NULL OR p_lookback_days IS NULL OR p_force_regenerate IS NULL THEN
    RAISE EXCEPTION 'sli_type, lookback_days and force_regenerate must not be NULL' USING ERRCODE = '22004';
  END IF;
  v_pk := idgraph._service_pk(p_service);
  IF p_sli_type NOT IN ('all', 'availability', 'latency') THEN
    RAISE EXCEPTION 'sli_type must be ''all'', ''availability'' or ''latency'', got %', quote_literal(left(p_sli_type, 40))
      USING ERRCODE = '22023';
  END IF;
  IF p_lookback_days NOT BETWEEN 7 AND 365 THEN
    RAISE EXCEPTION 'lookback_days must be between 7 and 365, got %', p_lookback_days USING ERRCODE = '22023';
  END IF;

  -- The stored one, unless forced, the graph changed or the SLI data moved.
  IF NOT p_force_regenerate THEN
    SELECT * INTO v_rec FROM idgraph.slo_recommendations r
     WHERE r.service_pk = v_pk AND r.sli_type = p_sli_type AND r.requested_lookback_days = p_lookback_days
       AND r.status IN ('active', 'expired')
     ORDER BY r.generated_at DESC LIMIT 1;
    IF FOUND AND v_rec.graph_version = (SELECT g.version FROM idgraph.graph_state g) THEN
      v_fp := idgraph._sli_fingerprint(v_pk, v_rec.lookback_days);
      IF NOT idgraph._sli_moved(v_rec.sli_fingerprint, v_fp) THEN
        IF v_rec.status = 'active' AND v_rec.expires_at > now() THEN
          RETURN idgraph._slo_rec_response(v_rec, true, false, NULL);
        END IF;
        -- Expired, and no SLI window arrived since: nothing fresher to compute from (the
        -- telemetry source is down or silent). Serve it, marked stale (AC-008).
        IF (v_fp->>'last_recorded_at') IS NOT DISTINCT FROM (v_rec.sli_fingerprint->>'last_recorded_at') THEN
          RETURN idgraph._slo_rec_response(v_rec, true, true,
                   'expired; no SLI data recorded since it was generated');
        END IF;
      END IF;
    END IF;
  END IF;

  -- A read-only transaction (a hot standby, a read pool) cannot store: the stored one if
  -- any (stale: true, it could not be refreshed), else a computation that is not stored
  -- (recommendation_id null: nothing to decide on).
  IF current_setting('transaction_read_only') = 'on' THEN
    SELECT * INTO v_rec FROM idgraph.slo_recommendations r
     WHERE r.service_pk = v_pk AND r.sli_type = p_sli_type AND r.requested_lookback_days = p_lookback_days
       AND r.status IN ('active', 'expired')
     ORDER BY r.generated_at DESC LIMIT 1;
    IF FOUND THEN
      RETURN idgraph._slo_rec_response(v_rec, true, true, 'read-only transaction: the stored recommendation could not be refreshed');
    END IF;
    v_body := idgraph._slo_compute(p_service, p_sli_type, p_lookback_days);
    RETURN v_body || jsonb_build_object('recommendation_id', NULL, 'status', NULL, 'cached', false, 'stale', false,
                                        'stored', false);
  END IF;

  -- Compute, store (superseding the previous one), auto-approve.
  PERFORM pg_advisory_xact_lock(1684498789, v_pk);  -- one regeneration per service at a time
  v_body := idgraph._slo_compute(p_service, p_sli_type, p_lookback_days);
  v_days := (v_body->'lookback_window'->>'days')::integer;
  v_fp := idgraph._sli_fingerprint(v_pk, v_days);
  UPDATE idgraph.slo_recommendations r SET status = 'superseded', superseded_at = now()
   WHERE r.service_pk = v_pk AND r.sli_type = p_sli_type AND r.requested_lookback_days = p_lookback_days
     AND r.status = 'active';
  INSERT INTO idgraph.slo_recommendations (service_pk, sli_type, requested_lookback_days, lookback_days,
                                           lookback_start, lookback_end, body, confidence, graph_version,
                                           sli_fingerprint, expires_at)
  VALUES (v_pk, p_sli_type, p_lookback_days, v_days,
          (v_body->'lookback_window'->>'start')::timestamptz, (v_body->'lookback_window'->>'end')::timestamptz,
          v_body - 'graph_version', (v_body->>'confidence')::float8, (v_body->>'graph_version')::bigint,
          v_fp, now() + interval '24 hours')
  RETURNING * INTO v_rec;
  v_auto := idgraph._slo_auto_approve(v_rec.recommendation_id);
  IF v_auto IS NOT NULL THEN
    -- Our own SLO change bumped the graph version; the recommendation stands at the new one.
    UPDATE idgraph.slo_recommendations r
       SET auto_approval = v_auto, graph_version = (SELECT g.version FROM idgraph.graph_state g)
     WHERE r.recommendation_id = v_rec.recommendation_id
    RETURNING * INTO v_rec;
  END IF;
  RETURN idgraph._slo_rec_response(v_rec, false, false, NULL);
END
$$;
COMMENT ON FUNCTION idgraph.slo_recommendations(text, text, integer, boolean) IS
$c$FR-2 SLO recommendations for a service, as JSON (availability as fractions): service_id, recommendation_id, generated_at, expires_at, lookback_window {start, end, days, requested_days, extended}, data_quality {data_completeness, telemetry_gaps, confidence_note, confidence, cold_start, archetype, ...}, recommendations[] (availability: tiers.{conservative,balanced,aggressive}.{target, error_budget_monthly_minutes, estimated_breach_probability, confidence_interval, percentile}; latency: tiers.*.{target_ms, percentile, estimated_breach_probability}; explanation {summary, feature_attribution, dependency_impact, counterfactuals}), graph_version, status, cached, stale.
Windows: the service's 1h SLI windows in the lookback (1d when it has no 1h ones), each weighing the same; availability of a window = good/total events. Q(p) = type-7 quantile (linear interpolation, h = (n-1)p).
Availability tiers (rounded down to 0.00001): conservative = Q(0.001) (met by 99.9% of windows), balanced = min(Q(0.01), B) with B = composite availability of the hard dependencies (idgraph.composite_availability / own factor), aggressive = Q(0.05). Error budget = (1 - target) x 43,830 min (average month, 30.4375 days). Breach probability = share of windows below the target. Confidence interval = 2.5-97.5 percentile of 1,000 bootstrap resamples (SplitMix64, fixed seed: same data, same interval).
Latency tiers (ms, rounded up) over window p99 latencies with noise margin m = idgraph.slo_latency_noise_margin (default 0.05): Q(0.999)(1+m), Q(0.99)(1+m), Q(0.95); breach = share of windows above.
Attribution: shares of -ln(balanced) (gap to 100%) for own history, hard dependencies -ln(B/E), externals -ln(E), data completeness 1 - completeness; sum to 1. Counterfactuals: bottleneck dependency one nine better / worse.
Cold start: < 30 days of data -> lookback 90 days; < 7 days' worth of windows -> archetype baseline (gateway 99.95%/200 ms, backend 99.9%/500 ms, external 99.5%/2000 ms), confidence <= 0.3.
Cache: served from the store (cached: true) unless p_force_regenerate, expired (24 h), the graph version changed or the SLI data moved > 5% (windows, events, error ratio or mean p99); an expired one with no SLI data recorded since is served with stale: true. Regenerating supersedes the previous one and runs the auto-approval rules. In a read-only transaction (a standby) the stored one is served (stale: true when it is invalid), else the computation unstored (recommendation_id null, stored: false).
lookback_days 7..365 else 22023; unknown sli_type 22023; unknown service P0002.
Example: SELECT idgraph.slo_recommendations('checkout', 'all', 30);$c$;

-- ---------------------------------------------------------------------------------------
-- Lifecycle (FR-5)

CREATE FUNCTION idgraph.slo_decide(p_service text, p_recommendation uuid, p_action text,
                                   p_tier text DEFAULT NULL, p_modifications jsonb DEFAULT NULL,
                                   p_rationale text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_pk integer;
  v_rec idgraph.slo_recommendations;
  v_actor text := idgraph._slo_actor();
  v_tier text := coalesce(p_tier, 'balanced');
  v_t jsonb;
  v_cur idgraph.slos;
  v_key text;
  v_a float8;
  v_p95 float8;
  v_p99 float8;
  v_delta jsonb := '{}'::jsonb;
  v_res jsonb;
  v_source text;
BEGIN
  IF p_recommendation IS NULL OR p_action IS NULL THEN
    RAISE EXCEPTION 'recommendation and action must not be NULL' USING ERRCODE = '22004';
  END IF;
  v_pk := idgraph._service_pk(p_service);
  IF p_action NOT IN ('accept', 'modify', 'reject') THEN
    RAISE EXCEPTION 'action must be ''accept'', ''modify'' or ''reject'', got %', quote_literal(left(p_action, 40))
      USING ERRCODE = '22023';
  END IF;
  IF v_tier NOT IN ('conservative', 'balanced', 'aggressive') THEN
    RAISE EXCEPTION 'tier must be ''conservative'', ''balanced'' or ''aggressive'', got %', quote_literal(left(p_tier, 40))
      USING ERRCODE = '22023';
  END IF;
  SELECT * INTO v_rec FROM idgraph.slo_recommendations r
   WHERE r.recommendation_id = p_recommendation AND r.service_pk = v_pk FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'recommendation % does not exist for service %', p_recommendation, quote_literal(p_service)
      USING ERRCODE = 'P0002';
  END IF;
  IF v_rec.status = 'superseded' THEN
    RAISE EXCEPTION 'recommendation % was superseded by a newer one', p_recommendation
      USING ERRCODE = '55000', HINT = 'Fetch the current recommendation (idgraph.slo_recommendations) and decide on it.';
  END IF;
  IF v_rec.status = 'expired' OR v_rec.expires_at <= now() THEN
    RAISE EXCEPTION 'recommendation % expired at %', p_recommendation, idgraph._slo_ts(v_rec.expires_at)
      USING ERRCODE = '55000', HINT = 'Fetch a fresh recommendation (idgraph.slo_recommendations) and decide on it.';
  END IF;
  SELECT * INTO v_cur FROM idgraph.slos s WHERE s.service_pk = v_pk;

  IF p_action = 'reject' THEN
    IF p_modifications IS NOT NULL THEN
      RAISE EXCEPTION 'a rejection takes no modifications' USING ERRCODE = '22023';
    END IF;
    IF coalesce(btrim(p_rationale), '') = '' THEN
      RAISE EXCEPTION 'a rejection needs a rationale' USING ERRCODE = '22023';
    END IF;
    INSERT INTO idgraph.slo_audit_log (service_id, action, old_value, new_value, actor, rationale,
                                       recommendation_id, selected_tier)
    VALUES (p_service, 'reject', to_jsonb(v_cur) - 'service_pk', NULL, v_actor, p_rationale, p_recommendation, p_tier);
    UPDATE idgraph.slo_recommendations r SET decision = 'rejected', decided_at = now(), decided_by = v_actor
     WHERE r.recommendation_id = p_recommendation;
    RETURN jsonb_build_object('service_id', p_service, 'recommendation_id', p_recommendation,
                              'action', 'reject', 'status', 'rejected', 'rationale', p_rationale,
                              'decided_by', v_actor, 'decided_at', idgraph._slo_ts(now()),
                              'active_slo', to_jsonb(v_cur) - 'service_pk');
  END IF;

  v_t := idgraph._slo_tier_targets(v_rec.body, v_tier);
  v_a := (v_t->>'availability')::float8;
  v_p99 := (v_t->>'latency_p99_ms')::float8;
  IF p_action = 'accept' THEN
    IF p_modifications IS NOT NULL THEN
      RAISE EXCEPTION 'accept takes no modifications (use action ''modify'')' USING ERRCODE = '22023';
    END IF;
    v_source := 'recommendation_accepted';
  ELSE
    IF p_modifications IS NULL OR jsonb_typeof(p_modifications) <> 'object' OR p_modifications = '{}'::jsonb THEN
      RAISE EXCEPTION 'modify needs modifications: an object with availability_target, latency_p95_target_ms and/or latency_p99_target_ms'
        USING ERRCODE = '22023';
    END IF;
    FOR v_key IN SELECT jsonb_object_keys(p_modifications) LOOP
      IF v_key NOT IN ('availability_target', 'latency_p95_target_ms', 'latency_p99_target_ms') THEN
        RAISE EXCEPTION 'modifications.%: unknown field (expected availability_target, latency_p95_target_ms, latency_p99_target_ms)', v_key
          USING ERRCODE = '22023';
      END IF;
      IF jsonb_typeof(p_modifications->v_key) <> 'number' THEN
        RAISE EXCEPTION 'modifications.%: must be a number', v_key USING ERRCODE = '22023';
      END IF;
    END LOOP;
    IF p_modifications ? 'availability_target' THEN
      v_delta := v_delta || jsonb_build_object('availability', jsonb_build_object(
        'recommended', v_a, 'selected', p_modifications->'availability_target',
        'delta', round(((p_modifications->>'availability_target')::numeric - v_a::numeric), 6)));
      v_a := (p_modifications->>'availability_target')::float8;
    END IF;
    IF p_modifications ? 'latency_p99_target_ms' THEN
      v_delta := v_delta || jsonb_build_object('latency_p99_ms', jsonb_build_object(
        'recommended', v_p99, 'selected', p_modifications->'latency_p99_target_ms',
        'delta', (p_modifications->>'latency_p99_target_ms')::numeric - v_p99::numeric));
      v_p99 := (p_modifications->>'latency_p99_target_ms')::float8;
    END IF;
    IF p_modifications ? 'latency_p95_target_ms' THEN
      v_delta := v_delta || jsonb_build_object('latency_p95_ms', jsonb_build_object(
        'recommended', NULL, 'selected', p_modifications->'latency_p95_target_ms', 'delta', NULL));
      v_p95 := (p_modifications->>'latency_p95_target_ms')::float8;
    END IF;
    v_source := 'recommendation_modified';
  END IF;
  -- A latency-only recommendation keeps the active availability target.
  v_a := coalesce(v_a, v_cur.availability_target);
  IF v_a IS NULL THEN
    RAISE EXCEPTION 'no availability target: recommendation % has none and % has no active SLO', p_recommendation,
      quote_literal(p_service) USING ERRCODE = '22023', HINT = 'Give modifications.availability_target.';
  END IF;
  v_res := idgraph._slo_activate(v_pk, p_service, p_recommendation, p_action, v_tier, v_a, v_p95, v_p99, v_source,
                                 v_actor, p_rationale, CASE WHEN p_action = 'modify' THEN v_delta END);
  RETURN jsonb_build_object(
    'slo_id', v_res->'active'->'slo_id',
    'service_id', p_service,
    'status', 'active',
    'targets', jsonb_build_object('availability', v_res->'active'->'availability_target',
                                  'latency_p95_ms', v_res->'active'->'latency_p95_ms',
                                  'latency_p99_ms', v_res->'active'->'latency_p99_ms'),
    'source', v_source,
    'recommendation_id', p_recommendation,
    'selected_tier', v_tier,
    'modification_delta', CASE WHEN p_action = 'modify' THEN v_delta END,
    'rationale', p_rationale,
    'activated_at', idgraph._slo_ts(now()),
    'activated_by', v_actor,
    'previous', v_res->'previous');
END
$$;
COMMENT ON FUNCTION idgraph.slo_decide(text, uuid, text, text, jsonb, text) IS
$c$FR-5: accept, modify or reject a stored recommendation. accept: the tier's targets (default tier balanced; availability target + latency p99 ms) become the active SLO, source recommendation_accepted. modify: the tier's targets overridden by p_modifications {"availability_target": 0.9995 (a fraction), "latency_p99_target_ms": 600, "latency_p95_target_ms": 300}, source recommendation_modified, modification_delta {field: {recommended, selected, delta}}. reject: p_rationale required, the active SLO is unchanged, the recommendation's decision becomes rejected. Every decision is audited in idgraph.slo_audit_log with the previous state, actor (idgraph._actor(): the principal the facade authenticated, else the session user) and rationale; idgraph.set_slo / idgraph.slo share the same tables (source manual). A superseded or expired recommendation -> 55000; unknown service or a recommendation of another service -> P0002; bad action, tier or modifications -> 22023.
Example: SELECT idgraph.slo_decide('checkout', 'b2c1...'::uuid, 'modify', 'balanced', '{"availability_target": 0.9995}', 'payment fallback next sprint');$c$;

-- ---------------------------------------------------------------------------------------
-- Auto-approval rules (FR-11): admins only (sqitch grants_slo)

CREATE FUNCTION idgraph._slo_check_conditions(p_conditions jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_key text;
BEGIN
  IF p_conditions IS NULL THEN
    RAISE EXCEPTION 'conditions must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF jsonb_typeof(p_conditions) <> 'object' THEN
    RAISE EXCEPTION 'conditions must be an object' USING ERRCODE = '22023';
  END IF;
  FOR v_key IN SELECT jsonb_object_keys(p_conditions) LOOP
    IF v_key NOT IN ('criticality', 'teams', 'confidence_min', 'tier') THEN
      RAISE EXCEPTION 'conditions.%: unknown field (expected criticality, teams, confidence_min, tier)', v_key
        USING ERRCODE = '22023';
    END IF;
  END LOOP;
  IF NOT (p_conditions ?| ARRAY['criticality', 'teams', 'confidence_min']) THEN
    RAISE EXCEPTION 'conditions must select something: criticality, teams and/or confidence_min' USING ERRCODE = '22023';
  END IF;
  IF p_conditions ? 'criticality' AND (jsonb_typeof(p_conditions->'criticality') <> 'array'
      OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_conditions->'criticality') c
                  WHERE jsonb_typeof(c) <> 'string' OR c #>> '{}' NOT IN ('critical', 'high', 'medium', 'low'))) THEN
    RAISE EXCEPTION 'conditions.criticality must be an array of critical, high, medium, low' USING ERRCODE = '22023';
  END IF;
  IF p_conditions ? 'teams' AND (jsonb_typeof(p_conditions->'teams') <> 'array'
      OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_conditions->'teams') c WHERE jsonb_typeof(c) <> 'string')) THEN
    RAISE EXCEPTION 'conditions.teams must be an array of team names' USING ERRCODE = '22023';
  END IF;
  IF p_conditions ? 'confidence_min' AND (jsonb_typeof(p_conditions->'confidence_min') <> 'number'
      OR (p_conditions->>'confidence_min')::float8 NOT BETWEEN 0 AND 1) THEN
    RAISE EXCEPTION 'conditions.confidence_min must be a number between 0 and 1' USING ERRCODE = '22023';
  END IF;
  IF p_conditions ? 'tier' AND coalesce(p_conditions->>'tier', '') NOT IN ('conservative', 'balanced', 'aggressive') THEN
    RAISE EXCEPTION 'conditions.tier must be conservative, balanced or aggressive' USING ERRCODE = '22023';
  END IF;
END
$$;

CREATE FUNCTION idgraph.slo_auto_approval_rule_create(p_name text, p_conditions jsonb, p_enabled boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v idgraph.slo_auto_approval_rules;
BEGIN
  IF p_name IS NULL OR p_enabled IS NULL THEN
    RAISE EXCEPTION 'name and enabled must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF length(p_name) NOT BETWEEN 1 AND 255 THEN
    RAISE EXCEPTION 'rule name must be 1 to 255 characters' USING ERRCODE = '22023';
  END IF;
  PERFORM idgraph._slo_check_conditions(p_conditions);
  INSERT INTO idgraph.slo_auto_approval_rules (name, conditions, enabled, created_by)
  VALUES (p_name, p_conditions, p_enabled, idgraph._slo_actor())
  RETURNING * INTO v;
  RETURN to_jsonb(v);
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'an auto-approval rule named % exists', quote_literal(p_name) USING ERRCODE = '23505';
END
$$;
COMMENT ON FUNCTION idgraph.slo_auto_approval_rule_create(text, jsonb, boolean) IS
$c$FR-11 (admins): creates an auto-approval rule, disabled unless p_enabled. Conditions: criticality (array of critical|high|medium|low), teams (array), confidence_min (0..1, against the recommendation's confidence), tier (accepted tier, default balanced); at least one of the first three. When a recommendation is generated the first enabled matching rule (by name) accepts it: audit action auto_approve, actor 'auto-approval rule <name>'; a manual SLO is never overridden. Example: SELECT idgraph.slo_auto_approval_rule_create('low-crit', '{"criticality": ["low", "medium"], "confidence_min": 0.85, "tier": "balanced"}', true);$c$;

CREATE FUNCTION idgraph.slo_auto_approval_rule_enable(p_name text, p_enabled boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v idgraph.slo_auto_approval_rules;
BEGIN
  IF p_name IS NULL OR p_enabled IS NULL THEN
    RAISE EXCEPTION 'name and enabled must not be NULL' USING ERRCODE = '22004';
  END IF;
  UPDATE idgraph.slo_auto_approval_rules r SET enabled = p_enabled, updated_at = now()
   WHERE r.name = p_name RETURNING * INTO v;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'auto-approval rule % does not exist', quote_literal(p_name) USING ERRCODE = 'P0002';
  END IF;
  RETURN to_jsonb(v);
END
$$;
COMMENT ON FUNCTION idgraph.slo_auto_approval_rule_enable(text, boolean) IS
  'FR-11 (admins): enables (or with false disables) an auto-approval rule. Example: SELECT idgraph.slo_auto_approval_rule_enable(''low-crit'');';

CREATE FUNCTION idgraph.slo_auto_approval_rule_delete(p_name text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_name IS NULL THEN
    RAISE EXCEPTION 'name must not be NULL' USING ERRCODE = '22004';
  END IF;
  DELETE FROM idgraph.slo_auto_approval_rules r WHERE r.name = p_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'auto-approval rule % does not exist', quote_literal(p_name) USING ERRCODE = 'P0002';
  END IF;
  RETURN true;
END
$$;
COMMENT ON FUNCTION idgraph.slo_auto_approval_rule_delete(text) IS
  'FR-11 (admins): deletes an auto-approval rule. Example: SELECT idgraph.slo_auto_approval_rule_delete(''low-crit'');';

CREATE FUNCTION idgraph.slo_auto_approval_rules() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.name), '[]'::jsonb) FROM idgraph.slo_auto_approval_rules r
$$;
COMMENT ON FUNCTION idgraph.slo_auto_approval_rules() IS
  'FR-11 (admins): every auto-approval rule, by name. Example: SELECT idgraph.slo_auto_approval_rules();';

-- ---------------------------------------------------------------------------------------
-- Burn-rate alerts (FR-10)

CREATE FUNCTION idgraph.slo_alert_rules(p_service text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
  w text;
  v_sel text;
  v_team text;
  v_budget text;
  v_alert record;
  v_out text := E'# Generated by idgraph.slo_alert_rules: multi-window, multi-burn-rate SLO alerts\n'
                 '# (Google SRE workbook, "Alerting on SLOs"). Error ratio = 5xx / all requests.\n';
  v_groups integer := 0;
BEGIN
  IF p_service IS NOT NULL THEN
    IF NOT EXISTS (SELECT 1 FROM idgraph.slos o WHERE o.service_pk = idgraph._service_pk(p_service)) THEN
      RAISE EXCEPTION 'service % has no active SLO', quote_literal(left(p_service, 255)) USING ERRCODE = 'P0002';
    END IF;
  END IF;
  FOR r IN SELECT s.service_id, coalesce(s.team, 'unassigned') AS team, o.availability_target
             FROM idgraph.slos o JOIN idgraph.services s USING (service_pk)
            WHERE p_service IS NULL OR s.service_id = p_service
            ORDER BY s.service_id LOOP
    IF v_groups = 0 THEN
      v_out := v_out || E'groups:\n';
    END IF;
    v_groups := v_groups + 1;
    -- JSON string literals are valid YAML double-quoted scalars and PromQL strings.
    v_sel := 'service=' || to_json(r.service_id)::text;
    v_team := to_json(r.team)::text;
    v_budget := (1 - r.availability_target::numeric)::text;
    v_out := v_out || format(E'  - name: %s\n    rules:\n', to_json('idgraph-slo-' || r.service_id)::text);
    FOREACH w IN ARRAY ARRAY['5m', '30m', '1h', '2h', '6h', '1d', '3d'] LOOP
      v_out := v_out || format(
        E'      - record: slo:sli_error:ratio_rate%1$s\n'
         '        expr: |\n'
         '          (sum by (service) (rate(http_requests_total{%2$s,status=~"5.."}[%1$s]))\n'
         '            or 0 * sum by (service) (rate(http_requests_total{%2$s}[%1$s])))\n'
         '          /\n'
         '          sum by (service) (rate(http_requests_total{%2$s}[%1$s]))\n'
         '        labels:\n'
         '          team: %3$s\n'
         '          slo: availability\n'
         '      - record: slo:error_budget_burn_rate:rate%1$s\n'
         '        expr: slo:sli_error:ratio_rate%1$s{%2$s} / %4$s\n'
         '        labels:\n'
         '          team: %3$s\n'
         '          slo: availability\n',
        w, v_sel, v_team, v_budget);
    END LOOP;
    FOR v_alert IN SELECT * FROM (VALUES ('ErrorBudgetBurn1h5m', '14.4', '1h', '5m', 'page'),
                                         ('ErrorBudgetBurn6h30m', '6', '6h', '30m', 'page'),
                                         ('ErrorBudgetBurn1d2h', '3', '1d', '2h', 'ticket'),
                                         ('ErrorBudgetBurn3d6h', '1', '3d', '6h', 'ticket'))
                               AS a(name, factor, long_w, short_w, severity) LOOP
      v_out := v_out || format(
        E'      - alert: %1$s\n'
         '        expr: |\n'
         '          slo:sli_error:ratio_rate%3$s{%6$s} > (%2$s * %7$s)\n'
         '          and\n'
         '          slo:sli_error:ratio_rate%4$s{%6$s} > (%2$s * %7$s)\n'
         '        labels:\n'
         '          severity: %5$s\n'
         '          service: %8$s\n'
         '          team: %9$s\n'
         '          slo: availability\n'
         '          burn_rate: "%2$s"\n'
         '          long_window: %3$s\n'
         '          short_window: %4$s\n'
         '        annotations:\n'
         '          summary: %10$s\n',
        v_alert.name, v_alert.factor, v_alert.long_w, v_alert.short_w, v_alert.severity, v_sel, v_budget,
        to_json(r.service_id)::text, v_team,
        to_json(format('%s is burning its error budget at %sx over %s and %s (SLO %s%%)', r.service_id,
                       v_alert.factor, v_alert.long_w, v_alert.short_w,
                       rtrim(rtrim((r.availability_target::numeric * 100)::text, '0'), '.')))::text);
    END LOOP;
  END LOOP;
  IF v_groups = 0 THEN
    v_out := v_out || E'groups: []\n';
  END IF;
  RETURN v_out;
END
$$;
COMMENT ON FUNCTION idgraph.slo_alert_rules(text) IS
$c$FR-10: a Prometheus rule file for the active availability SLO of p_service (or of every service with one when NULL). Per service a group idgraph-slo-<service> with recording rules slo:sli_error:ratio_rate<w> = sum(rate(http_requests_total{service, status=~"5.."}[w])) / sum(rate(http_requests_total{service}[w])) and slo:error_budget_burn_rate:rate<w> = ratio / (1 - target) for w in 5m, 30m, 1h, 2h, 6h, 1d, 3d; and the SRE workbook's multi-window, multi-burn-rate alerts: ErrorBudgetBurn1h5m (14.4x over 1h and 5m, page), ErrorBudgetBurn6h30m (6x over 6h and 30m, page), ErrorBudgetBurn1d2h (3x over 1d and 2h, ticket), ErrorBudgetBurn3d6h (1x over 3d and 6h, ticket), labelled severity, service, team. A service without an active SLO -> P0002. Example: SELECT idgraph.slo_alert_rules('checkout');$c$;

-- ---------------------------------------------------------------------------------------
-- Dashboard (FR-12): materialized views, refreshed by idgraph.refresh_slo_dashboard()

CREATE MATERIALIZED VIEW idgraph.slo_dashboard_coverage AS
SELECT coalesce(s.team, 'unassigned') AS team,
       coalesce(s.criticality, 'unspecified') AS criticality,
       count(*) AS services,
       count(o.service_pk) AS with_slo,
       round(count(o.service_pk)::numeric / count(*), 4) AS coverage,
       count(o.service_pk) FILTER (WHERE o.source <> 'manual') AS from_recommendation,
       now() AS refreshed_at
  FROM idgraph.services s
  LEFT JOIN idgraph.slos o ON o.service_pk = s.service_pk
 WHERE s.kind = 'internal' AND NOT s.discovered
 GROUP BY 1, 2;
COMMENT ON MATERIALIZED VIEW idgraph.slo_dashboard_coverage IS
  'FR-12: SLO coverage by team and criticality (internal, non-placeholder services). Refresh: SELECT idgraph.refresh_slo_dashboard();';

CREATE MATERIALIZED VIEW idgraph.slo_dashboard_error_budget_health AS
SELECT s.service_id, s.team, s.criticality, o.availability_target, h.window_size,
       h.good_events, h.total_events,
       CASE WHEN h.total_events > 0 THEN h.good_events::float8 / h.total_events END AS availability,
       CASE WHEN h.total_events > 0
            THEN (1 - h.good_events::float8 / h.total_events) / (1 - o.availability_target) END AS budget_consumed,
       CASE WHEN coalesce(h.total_events, 0) = 0 THEN 'no_data'
            WHEN (1 - h.good_events::float8 / h.total_events) / (1 - o.availability_target) >= 1 THEN 'exhausted'
            WHEN (1 - h.good_events::float8 / h.total_events) / (1 - o.availability_target) >= 0.75 THEN 'at_risk'
            ELSE 'healthy' END AS status,
       30 AS window_days,
       now() AS refreshed_at
  FROM idgraph.slos o
  JOIN idgraph.services s ON s.service_pk = o.service_pk
  LEFT JOIN LATERAL (
    SELECT max(a.window_size) AS window_size, sum(a.good_events) AS good_events, sum(a.total_events) AS total_events
      FROM idgraph.sli_aggregates a
     WHERE a.service_pk = o.service_pk AND a.window_start >= now() - interval '30 days'
       AND a.window_size = (SELECT max(b.window_size) FROM idgraph.sli_aggregates b
                             WHERE b.service_pk = o.service_pk AND b.window_start >= now() - interval '30 days')
  ) h ON true;
COMMENT ON MATERIALIZED VIEW idgraph.slo_dashboard_error_budget_health IS
  'FR-12: error budget consumed per service with an active SLO over the last 30 days of SLI history (1h windows, else 1d): budget_consumed = (1 - good/total) / (1 - target); status healthy < 0.75 <= at_risk < 1 <= exhausted, no_data. Refresh: SELECT idgraph.refresh_slo_dashboard();';

CREATE MATERIALIZED VIEW idgraph.slo_dashboard_recommendation_quality AS
WITH decisions AS (
  SELECT s.team, l.action, l.service_id, l.logged_at
    FROM idgraph.slo_audit_log l
    JOIN idgraph.services s ON s.service_id = l.service_id
   WHERE l.action IN ('accept', 'modify', 'reject', 'auto_approve')
), generated AS (
  SELECT s.team, count(*) AS n
    FROM idgraph.slo_recommendations r JOIN idgraph.services s ON s.service_pk = r.service_pk
   GROUP BY s.team
), breaches AS (
  SELECT s.team, count(*) AS n
    FROM idgraph.slos o
    JOIN idgraph.services s ON s.service_pk = o.service_pk
    JOIN LATERAL (SELECT sum(a.good_events) AS good, sum(a.total_events) AS total
                    FROM idgraph.sli_aggregates a
                   WHERE a.service_pk = o.service_pk AND a.window_size = '1h' AND a.window_start >= o.activated_at) x ON true
   WHERE o.source <> 'manual' AND x.total > 0 AND x.good::float8 / x.total < o.availability_target
   GROUP BY s.team
), teams AS (
  SELECT team FROM decisions UNION SELECT team FROM generated
)
SELECT coalesce(t.team, 'unassigned') AS team,
       coalesce((SELECT g.n FROM generated g WHERE g.team IS NOT DISTINCT FROM t.team), 0) AS recommendations,
       count(d.action) AS decisions,
       count(d.action) FILTER (WHERE d.action = 'accept') AS accepted,
       count(d.action) FILTER (WHERE d.action = 'modify') AS modified,
       count(d.action) FILTER (WHERE d.action = 'reject') AS rejected,
       count(d.action) FILTER (WHERE d.action = 'auto_approve') AS auto_approved,
       round(count(d.action) FILTER (WHERE d.action IN ('accept', 'auto_approve'))::numeric / nullif(count(d.action), 0), 4) AS acceptance_rate,
       round(count(d.action) FILTER (WHERE d.action = 'modify')::numeric / nullif(count(d.action), 0), 4) AS modification_rate,
       round(count(d.action) FILTER (WHERE d.action = 'reject')::numeric / nullif(count(d.action), 0), 4) AS rejection_rate,
       coalesce((SELECT b.n FROM breaches b WHERE b.team IS NOT DISTINCT FROM t.team), 0) AS breaches_after_acceptance,
       now() AS refreshed_at
  FROM teams t
  LEFT JOIN decisions d ON d.team IS NOT DISTINCT FROM t.team
 GROUP BY t.team;
COMMENT ON MATERIALIZED VIEW idgraph.slo_dashboard_recommendation_quality IS
  'FR-12: per team, recommendations generated, decisions (accept/modify/reject/auto_approve) and their rates, and breaches after acceptance (active SLOs from a recommendation whose 1h SLI history since activation is below target). Refresh: SELECT idgraph.refresh_slo_dashboard();';

CREATE FUNCTION idgraph.refresh_slo_dashboard() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  REFRESH MATERIALIZED VIEW idgraph.slo_dashboard_coverage;
  REFRESH MATERIALIZED VIEW idgraph.slo_dashboard_error_budget_health;
  REFRESH MATERIALIZED VIEW idgraph.slo_dashboard_recommendation_quality;
  RETURN jsonb_build_object('refreshed_at', idgraph._slo_ts(now()));
END
$$;
COMMENT ON FUNCTION idgraph.refresh_slo_dashboard() IS
  'FR-12: refreshes the three dashboard materialized views. Run it hourly, e.g. with pg_cron: SELECT cron.schedule(''idgraph-slo-dashboard'', ''7 * * * *'', $c$SELECT idgraph.refresh_slo_dashboard()$c$); Example: SELECT idgraph.refresh_slo_dashboard();';

CREATE FUNCTION idgraph.slo_dashboard(p_view text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_view IS NULL THEN
    RAISE EXCEPTION 'view must not be NULL' USING ERRCODE = '22004';
  END IF;
  CASE p_view
    WHEN 'coverage' THEN
      RETURN (SELECT coalesce(jsonb_agg(to_jsonb(v) ORDER BY v.team, v.criticality), '[]') FROM idgraph.slo_dashboard_coverage v);
    WHEN 'error_budget_health' THEN
      RETURN (SELECT coalesce(jsonb_agg(to_jsonb(v) ORDER BY v.budget_consumed DESC NULLS LAST, v.service_id), '[]')
                FROM idgraph.slo_dashboard_error_budget_health v);
    WHEN 'recommendation_quality' THEN
      RETURN (SELECT coalesce(jsonb_agg(to_jsonb(v) ORDER BY v.team), '[]') FROM idgraph.slo_dashboard_recommendation_quality v);
    ELSE
      RAISE EXCEPTION 'view must be coverage, error_budget_health or recommendation_quality, got %', quote_literal(left(p_view, 40))
        USING ERRCODE = '22023';
  END CASE;
END
$$;
COMMENT ON FUNCTION idgraph.slo_dashboard(text) IS
  'FR-12: one dashboard view as a JSON array (as of the last idgraph.refresh_slo_dashboard()): coverage, error_budget_health or recommendation_quality. Example: SELECT idgraph.slo_dashboard(''coverage'');';

-- ---------------------------------------------------------------------------------------
-- The Rust functions (pg_ext/src/api/slo.rs)
COMMENT ON FUNCTION idgraph.record_sli(jsonb) IS
$c$FR-6: records SLI aggregates, many services and windows per call: {"source": "...", "windows": [{"service_id", "window": "1h"|"1d", "start": RFC 3339 (1h on the hour, 1d at midnight UTC, not in the future), "good_events", "total_events" (both or neither, good <= total), "latency_p50_ms", "latency_p95_ms", "latency_p99_ms" (non-decreasing)}]} (at most 200,000 windows). Idempotent per (service, window, start): the later write wins; the last occurrence in a document wins. Validated first: every offending element named with its path in the DETAIL (unknown services too), 22023, nothing written. Returns {received, services, inserted, updated, unchanged}. SECURITY DEFINER, the one door for SLI writes; writers only. Example: SELECT idgraph.record_sli('{"windows": [{"service_id": "checkout", "window": "1h", "start": "2026-11-24T10:00:00Z", "good_events": 99950, "total_events": 100000, "latency_p99_ms": 190}]}');$c$;
COMMENT ON FUNCTION idgraph._slo_compute(text, text, integer) IS
  'Internal: computes an FR-2 recommendation body from the SLI history and the dependency graph (called by idgraph.slo_recommendations, which stores and caches it).';

-- SLOs carried from 0.1.0 were activated when last set (the graph version is not bumped:
-- nothing about the graph changed).
ALTER TABLE idgraph.slos DISABLE TRIGGER slos_bump_version;
UPDATE idgraph.slos SET activated_at = updated_at;
ALTER TABLE idgraph.slos ENABLE TRIGGER slos_bump_version;

-- sql/finalize.sql: nothing new is usable by PUBLIC until sqitch grants_slo grants it.
REVOKE ALL ON FUNCTION
  idgraph._slo_actor(), idgraph._record_sli_apply(jsonb), idgraph.apply_sli_retention(),
  idgraph._sli_fingerprint(integer, integer), idgraph._sli_moved(jsonb, jsonb), idgraph._slo_ts(timestamptz),
  idgraph._slo_rec_response(idgraph.slo_recommendations, boolean, boolean, text), idgraph._slo_tier_targets(jsonb, text),
  idgraph._slo_activate(integer, text, uuid, text, text, float8, float8, float8, text, text, text, jsonb),
  idgraph._slo_auto_approve(uuid), idgraph.slo_recommendations(text, text, integer, boolean),
  idgraph.slo_decide(text, uuid, text, text, jsonb, text), idgraph._slo_check_conditions(jsonb),
  idgraph.slo_auto_approval_rule_create(text, jsonb, boolean), idgraph.slo_auto_approval_rule_enable(text, boolean),
  idgraph.slo_auto_approval_rule_delete(text), idgraph.slo_auto_approval_rules(), idgraph.slo_alert_rules(text),
  idgraph.refresh_slo_dashboard(), idgraph.slo_dashboard(text), idgraph.record_sli(jsonb),
  idgraph._slo_compute(text, text, integer)
  FROM PUBLIC;
REVOKE ALL ON idgraph.sli_aggregates, idgraph.slo_recommendations, idgraph.slo_auto_approval_rules,
  idgraph.slo_dashboard_coverage, idgraph.slo_dashboard_error_budget_health,
  idgraph.slo_dashboard_recommendation_quality FROM PUBLIC;

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

-- == identity: submissions named by an identifier, submission expiry (issue 9) ==
-- sql/identity_submissions.sql, its last two sections. sead_utility.allocate_system_id (sqitch
-- compat_sead_loaders) finds or creates its submission through ensure_named_submission;
-- expiry is listed and applied by admins and by the background worker
-- (idgraph.submission_expiry_enabled). No table changes.
CREATE OR REPLACE FUNCTION idgraph.named_submission_uuid(p_identifier text) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE WHEN idgraph.guess_external_id_type(p_identifier) = 'uuid'
              THEN idgraph.normalize_external_id(p_identifier, 'uuid')::uuid
              ELSE pg_catalog.encode(pg_catalog.set_byte(pg_catalog.set_byte(h.b, 6, (pg_catalog.get_byte(h.b, 6) & 15) | 128),
                                                        8, (pg_catalog.get_byte(h.b, 8) & 63) | 128), 'hex')::uuid
         END
    FROM (SELECT pg_catalog.substr(pg_catalog.sha256(pg_catalog.convert_to('idgraph.submission:' || p_identifier, 'UTF8')),
                                   1, 16) AS b) h
$$;
COMMENT ON FUNCTION idgraph.named_submission_uuid(text) IS
$$The uuid a submission named by this identifier is created with: the identifier itself when it is a uuid, else version 8 (RFC 9562) from sha256('idgraph.submission:' || identifier).
Example: SELECT idgraph.named_submission_uuid('shape-shifter-2026-12-02');$$;
CREATE OR REPLACE FUNCTION idgraph.ensure_named_submission(p_identifier text, p_change_request_id text DEFAULT NULL,
                                                p_source_system text DEFAULT 'sead_utility',
                                                p_data_type text DEFAULT 'unspecified')
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id uuid;
  v_cr text;
BEGIN
  IF p_identifier IS NULL THEN
    RAISE EXCEPTION 'submission identifier must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF length(p_change_request_id) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'a change request identifier must be 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  -- Hot path (one call per row): the submission exists under this name.
  SELECT s.submission_id, s.change_request_id INTO v_id, v_cr
    FROM idgraph.submissions s WHERE s.submission_name = p_identifier;
  IF NOT FOUND THEN
    v_id := idgraph.named_submission_uuid(p_identifier);
    SELECT s.change_request_id INTO v_cr FROM idgraph.submissions s WHERE s.submission_id = v_id;
    IF NOT FOUND THEN
      -- Created here, or by a concurrent session under the same name (ensure_submission
      -- waits for it and agrees); 23505 when the name belongs to another uuid meanwhile.
      PERFORM idgraph.ensure_submission(v_id, p_identifier, p_source_system, p_data_type);
      SELECT s.change_request_id INTO v_cr FROM idgraph.submissions s WHERE s.submission_id = v_id;
    END IF;
  END IF;
  IF p_change_request_id IS NOT NULL AND v_cr IS DISTINCT FROM p_change_request_id THEN
    IF v_cr IS NULL THEN
      -- The first change request named is the submission's (commit keeps it unless it names one).
      UPDATE idgraph.submissions s SET change_request_id = p_change_request_id
       WHERE s.submission_id = v_id AND s.change_request_id IS NULL;
      IF NOT FOUND THEN
        SELECT s.change_request_id INTO v_cr FROM idgraph.submissions s WHERE s.submission_id = v_id;
      END IF;
    END IF;
    IF v_cr IS DISTINCT FROM p_change_request_id AND v_cr IS NOT NULL THEN
      RAISE EXCEPTION 'submission % belongs to change request %, not %', quote_literal(p_identifier),
                      quote_literal(v_cr), quote_literal(p_change_request_id)
        USING ERRCODE = '22023', HINT = 'One submission serves one change request; use another submission identifier.';
    END IF;
  END IF;
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION idgraph.ensure_named_submission(text, text, text, text) IS
$$The submission an identifier names: the one whose name is the identifier, else the one whose uuid is idgraph.named_submission_uuid(identifier), else a new pending one created under both (idgraph.ensure_submission). A change request identifier, when given, is recorded on the submission the first time; a different one later is 22023.
Example: SELECT idgraph.ensure_named_submission('shape-shifter-2026-12-02', 'CR-42');$$;
CREATE OR REPLACE FUNCTION idgraph._submission_expiry_age() RETURNS interval
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  v text := nullif(pg_catalog.current_setting('idgraph.submission_expiry_age', true), '');
BEGIN
  IF v IS NULL THEN
    RETURN interval '7 days';
  ELSIF v ~ '^\s*\d+\s*$' THEN
    RETURN pg_catalog.make_interval(secs => v::double precision);
  END IF;
  RETURN v::interval;
END
$$;
COMMENT ON FUNCTION idgraph._submission_expiry_age() IS
  'The setting idgraph.submission_expiry_age as an interval (default 7 days; internal).';
CREATE OR REPLACE FUNCTION idgraph.expired_submissions(p_older_than interval DEFAULT NULL)
RETURNS TABLE (submission_id uuid, submission_name text, source_system text, created_by text,
               created_by_team text, created_at timestamptz, age interval, pending_allocations bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_age interval := coalesce(p_older_than, idgraph._submission_expiry_age());
BEGIN
  IF v_age < interval '0' THEN
    RAISE EXCEPTION 'the age must not be negative, got %', v_age USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
    SELECT s.submission_id, s.submission_name, s.source_system, s.created_by, s.created_by_team, s.created_at,
           now() - s.created_at,
           (SELECT count(*) FROM idgraph.allocation_rows a WHERE a.submission_no = s.submission_no)
      FROM idgraph.submissions s
     WHERE s.status = 'pending' AND s.created_at < now() - v_age
     ORDER BY s.created_at, s.submission_id;
END
$$;
COMMENT ON FUNCTION idgraph.expired_submissions(interval) IS
$$Pending submissions created longer ago than p_older_than (NULL: the setting idgraph.submission_expiry_age, default 7 days), oldest first, with their allocations still pending. Admin only.
Example: SELECT * FROM idgraph.expired_submissions(interval '2 days');$$;
CREATE OR REPLACE FUNCTION idgraph.expire_submissions(p_older_than interval DEFAULT NULL, p_limit integer DEFAULT 1000)
RETURNS TABLE (submission_id uuid, submission_name text, allocations_rolled_back bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_age interval := coalesce(p_older_than, idgraph._submission_expiry_age());
  r record;
BEGIN
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'limit must be 1 to 100000, got %', p_limit USING ERRCODE = '22023';
  END IF;
  IF v_age < interval '0' THEN
    RAISE EXCEPTION 'the age must not be negative, got %', v_age USING ERRCODE = '22023';
  END IF;
  -- SKIP LOCKED: a submission with allocations in flight (they hold FOR KEY SHARE) or
  -- being committed is left for the next run rather than waited for.
  FOR r IN SELECT s.submission_id, s.submission_name FROM idgraph.submissions s
            WHERE s.status = 'pending' AND s.created_at < now() - v_age
            ORDER BY s.created_at, s.submission_id
            LIMIT p_limit
              FOR UPDATE SKIP LOCKED LOOP
    submission_id := r.submission_id;
    submission_name := r.submission_name;
    SELECT rb.allocations_affected INTO allocations_rolled_back
      FROM idgraph.rollback_submission(r.submission_id, 'expired') rb;
    RETURN NEXT;
  END LOOP;
END
$$;
COMMENT ON FUNCTION idgraph.expire_submissions(interval, integer) IS
$$Rolls back (reason 'expired', audited as every rollback) up to p_limit pending submissions older than p_older_than (NULL: idgraph.submission_expiry_age), oldest first, skipping any that is busy; returns those rolled back. The background worker calls it when idgraph.submission_expiry_enabled is on. Admin only.
Example: SELECT * FROM idgraph.expire_submissions(interval '7 days');$$;
CREATE OR REPLACE FUNCTION idgraph.submission_expiry_status()
RETURNS TABLE (enabled boolean, max_age interval, pending bigint, expired bigint, oldest_pending_age interval)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(nullif(current_setting('idgraph.submission_expiry_enabled', true), '')::boolean, false),
         x.age,
         count(s.submission_id),
         count(s.submission_id) FILTER (WHERE s.created_at < now() - x.age),
         coalesce(now() - min(s.created_at), interval '0')
    FROM (SELECT idgraph._submission_expiry_age() AS age) x
    LEFT JOIN idgraph.submissions s ON s.status = 'pending'
   GROUP BY x.age
$$;
COMMENT ON FUNCTION idgraph.submission_expiry_status() IS
$$Whether automatic expiry is on, the expiry age, and how many submissions are pending and how many of them are past that age (the facade's /metrics gauges).
Example: SELECT * FROM idgraph.submission_expiry_status();$$;
-- A fresh install revokes PUBLIC's EXECUTE from every function (finalize.sql); so here.
REVOKE ALL ON FUNCTION idgraph.named_submission_uuid(text), idgraph.ensure_named_submission(text, text, text, text),
  idgraph._submission_expiry_age(), idgraph.expired_submissions(interval), idgraph.expire_submissions(interval, integer),
  idgraph.submission_expiry_status()
  FROM PUBLIC;

-- == identity: audit seals cost the rows since the last seal (issue 9; sql/schema.sql, sql/identity_audit.sql) ==
-- seal_audit() reads only the rows of transactions since the previous seal's xmin: a range
-- of txid. A btree: xid8 has no BRIN opclass in PostgreSQL 15, and a BRIN on audit_id would
-- not bound txid (a transaction's xid is taken at its first write, its audit_id later).
-- One key per transaction: ~22 bytes a row when every call is its own transaction, less
-- when a transaction writes several rows (equal keys are deduplicated); ~0.7 µs a row.
CREATE INDEX audit_log_txid_idx ON idgraph.audit_log (txid);
CREATE OR REPLACE FUNCTION idgraph.seal_audit() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_sysid bigint := idgraph._system_identifier();
  v_prev idgraph.audit_seals;
  v_snap pg_snapshot;
  v_count bigint;
  v_agg bytea;
  v_digest bytea;
BEGIN
  -- Rows of a transaction that is still open (this one included) must not be sealed:
  -- it may yet roll back. A caller that has written already cannot seal.
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RETURN NULL;
  END IF;
  LOCK TABLE idgraph.audit_seals IN SHARE ROW EXCLUSIVE MODE;   -- sealers only
  v_snap := pg_current_snapshot();
  SELECT * INTO v_prev FROM idgraph.audit_seals s WHERE s.sysid = v_sysid ORDER BY s.seal_id DESC LIMIT 1;
  SELECT count(*), string_agg(a.row_hash, ''::bytea ORDER BY a.audit_id) INTO v_count, v_agg
    FROM idgraph.audit_log a
   WHERE a.sysid = v_sysid
     -- The two txid bounds only narrow what the visibility tests select, so that the scan
     -- (audit_log_txid_idx) costs the rows since the previous seal, not the whole table: a
     -- transaction below the previous snapshot's xmin had finished when it was taken (its
     -- rows were sealed then, or it aborted and has none); one at or above the new
     -- snapshot's xmax is not visible in it. A transaction that was still open at the
     -- previous seal is at or above its xmin and is sealed here once it committed.
     AND a.txid >= coalesce(pg_snapshot_xmin(v_prev.snap), '0'::xid8)
     AND a.txid < pg_snapshot_xmax(v_snap)
     AND pg_visible_in_snapshot(a.txid, v_snap)
     AND (v_prev.seal_id IS NULL OR NOT pg_visible_in_snapshot(a.txid, v_prev.snap));
  IF v_count = 0 THEN
    RETURN 0;
  END IF;
  v_digest := sha256(coalesce(v_prev.digest, ''::bytea) || v_agg);
  INSERT INTO idgraph.audit_seals (sysid, snap, row_count, prev_digest, digest)
  VALUES (v_sysid, v_snap, v_count, v_prev.digest, v_digest);
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION idgraph.seal_audit() IS
  'Seals the audit rows committed since the last seal into the sha256 chain; returns how many (NULL inside a transaction that has written). Example: SELECT idgraph.seal_audit();';
CREATE OR REPLACE FUNCTION idgraph.audit_problems()
RETURNS TABLE (problem text, audit_id bigint, seal_id bigint, detail text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s record;
  v_prev_snap pg_snapshot;
  v_prev_digest bytea;
  v_prev_sysid bigint;
  v_count bigint;
  v_agg bytea;
BEGIN
  PERFORM idgraph.seal_audit();
  RETURN QUERY
    SELECT 'row changed'::text, a.audit_id, NULL::bigint, 'row_hash does not match the row'::text
      FROM idgraph.audit_log a WHERE a.row_hash IS DISTINCT FROM idgraph._audit_row_hash(a);
  FOR s IN SELECT * FROM idgraph.audit_seals ORDER BY sysid, seal_id LOOP
    IF v_prev_sysid IS DISTINCT FROM s.sysid THEN
      v_prev_snap := NULL; v_prev_digest := NULL; v_prev_sysid := s.sysid;
    END IF;
    IF s.prev_digest IS DISTINCT FROM v_prev_digest THEN
      RETURN QUERY SELECT 'seal chain broken'::text, NULL::bigint, s.seal_id, 'prev_digest does not match the previous seal'::text;
    END IF;
    SELECT count(*), string_agg(a.row_hash, ''::bytea ORDER BY a.audit_id) INTO v_count, v_agg
      FROM idgraph.audit_log a
     WHERE a.sysid = s.sysid
       -- The bounds of seal_audit(): each seal's check reads its own rows, so the whole
       -- check costs the table once, not once per seal.
       AND a.txid >= coalesce(pg_snapshot_xmin(v_prev_snap), '0'::xid8)
       AND a.txid < pg_snapshot_xmax(s.snap)
       AND pg_visible_in_snapshot(a.txid, s.snap)
       AND (v_prev_snap IS NULL OR NOT pg_visible_in_snapshot(a.txid, v_prev_snap));
    IF v_count <> s.row_count THEN
      RETURN QUERY SELECT CASE WHEN v_count < s.row_count THEN 'rows removed' ELSE 'rows inserted' END,
                          NULL::bigint, s.seal_id, format('seal covers %s rows, found %s', s.row_count, v_count);
    ELSIF sha256(coalesce(s.prev_digest, ''::bytea) || coalesce(v_agg, ''::bytea)) <> s.digest THEN
      RETURN QUERY SELECT 'sealed rows changed'::text, NULL::bigint, s.seal_id, 'digest mismatch'::text;
    END IF;
    v_prev_snap := s.snap;
    v_prev_digest := s.digest;
  END LOOP;
END
$$;
COMMENT ON FUNCTION idgraph.audit_problems() IS
  'Every inconsistency in the audit trail (changed rows, removed or inserted rows, broken seal chain). Empty when intact. Example: SELECT * FROM idgraph.audit_problems();';

-- == allocation hot path (issue 9, speed; sql/schema.sql, identity_submissions.sql,
-- identity_allocation.sql, pg_ext/src/api/identity.rs) ==
-- Allocations hold their submission by its heavyweight lock in share mode instead of a
-- FOR KEY SHARE row lock on the one submission row; commit and rollback take it
-- exclusively; expiry tries it without waiting. _allocate computes its audit row's hash in
-- its INSERT and the hash trigger fires only for rows that come without one.
-- idgraph::api::identity::_lock_submission
CREATE OR REPLACE FUNCTION "_lock_submission"(
	"p_submission" uuid, /* pgrx :: datum :: Uuid */
	"p_exclusive" bool, /* bool */
	"p_wait" bool /* bool */
) RETURNS bool /* bool */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_lock_submission_wrapper';
REVOKE ALL ON FUNCTION idgraph._lock_submission(uuid, boolean, boolean) FROM PUBLIC;
-- _open_submission returns the submission's number now (0.1.0: void), which CREATE OR REPLACE cannot change.
DROP FUNCTION idgraph._open_submission(uuid);
CREATE OR REPLACE FUNCTION idgraph._open_submission(p_submission uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE
-- Called only by SECURITY DEFINER functions, whose pinned search_path it runs under.
-- Returns the submission's number (what its allocation rows name it by).
AS $$
DECLARE
  v_status text;
  v_no integer;
  v_locked boolean;
BEGIN
  IF p_submission IS NULL THEN
    RAISE EXCEPTION 'submission must not be NULL' USING ERRCODE = '22004';
  END IF;
  v_locked := idgraph._lock_submission(p_submission, false, true);
  IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN
    SELECT s.status, s.submission_no INTO v_status, v_no FROM idgraph.submissions s WHERE s.submission_id = p_submission;
  ELSE
    SELECT s.status, s.submission_no INTO v_status, v_no FROM idgraph.submissions s
     WHERE s.submission_id = p_submission FOR KEY SHARE;
  END IF;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'submission % does not exist', p_submission
      USING ERRCODE = 'P0002', HINT = 'Create one with idgraph.create_submission(name, source_system, data_type).';
  END IF;
  IF v_status <> 'pending' THEN
    RAISE EXCEPTION 'submission % is %, it accepts no more allocations', p_submission, v_status
      USING ERRCODE = '55000', HINT = 'Create a new submission.';
  END IF;
  RETURN v_no;
END
$$;
CREATE OR REPLACE FUNCTION idgraph._close_submission(p_submission uuid, p_to text) RETURNS idgraph.submissions
LANGUAGE plpgsql VOLATILE
-- Called only by SECURITY DEFINER functions, whose pinned search_path it runs under.
AS $$
DECLARE
  v idgraph.submissions;
  v_locked boolean;
BEGIN
  IF p_submission IS NULL THEN
    RAISE EXCEPTION 'submission must not be NULL' USING ERRCODE = '22004';
  END IF;
  -- The submission's lock, exclusively: waits for allocations in flight (they hold it in
  -- share mode, see idgraph._open_submission); FOR UPDATE waits for those of a
  -- transaction-wide snapshot, which hold FOR KEY SHARE as well.
  v_locked := idgraph._lock_submission(p_submission, true, true);
  SELECT * INTO v FROM idgraph.submissions s WHERE s.submission_id = p_submission FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'submission % does not exist', p_submission USING ERRCODE = 'P0002';
  END IF;
  IF v.status <> 'pending' THEN
    RAISE EXCEPTION 'submission % is already %; it cannot be %', p_submission, v.status,
      CASE p_to WHEN 'committed' THEN 'committed' ELSE 'rolled back' END
      USING ERRCODE = '55000';
  END IF;
  RETURN v;
END
$$;
CREATE OR REPLACE FUNCTION idgraph.expire_submissions(p_older_than interval DEFAULT NULL, p_limit integer DEFAULT 1000)
RETURNS TABLE (submission_id uuid, submission_name text, allocations_rolled_back bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_age interval := coalesce(p_older_than, idgraph._submission_expiry_age());
  r record;
BEGIN
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'limit must be 1 to 100000, got %', p_limit USING ERRCODE = '22023';
  END IF;
  IF v_age < interval '0' THEN
    RAISE EXCEPTION 'the age must not be negative, got %', v_age USING ERRCODE = '22023';
  END IF;
  -- SKIP LOCKED and the lock tried without waiting: a submission with allocations in
  -- flight (they hold its lock in share mode, FOR KEY SHARE too under REPEATABLE READ) or
  -- being committed is left for the next run rather than waited for.
  FOR r IN SELECT s.submission_id, s.submission_name FROM idgraph.submissions s
            WHERE s.status = 'pending' AND s.created_at < now() - v_age
            ORDER BY s.created_at, s.submission_id
            LIMIT p_limit
              FOR UPDATE SKIP LOCKED LOOP
    CONTINUE WHEN NOT idgraph._lock_submission(r.submission_id, true, false);
    submission_id := r.submission_id;
    submission_name := r.submission_name;
    SELECT rb.allocations_affected INTO allocations_rolled_back
      FROM idgraph.rollback_submission(r.submission_id, 'expired') rb;
    RETURN NEXT;
  END LOOP;
END
$$;
COMMENT ON FUNCTION idgraph.expire_submissions(interval, integer) IS
$$Rolls back (reason 'expired', audited as every rollback) up to p_limit pending submissions older than p_older_than (NULL: idgraph.submission_expiry_age), oldest first, skipping any that is busy; returns those rolled back. The background worker calls it when idgraph.submission_expiry_enabled is on. Admin only.
Example: SELECT * FROM idgraph.expire_submissions(interval '7 days');$$;
CREATE OR REPLACE FUNCTION idgraph._allocate(
    p_submission uuid, p_rel regclass, p_column text, p_external_id text,
    p_external_id_type text, p_content_hash text, p_external_system_id text, p_external_data jsonb)
RETURNS TABLE (alloc_integer_id bigint, is_new boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  v_actor text := idgraph._actor();
  v_target integer;
  v_seq regclass;
  v_id text;
  v_alloc bigint;
  v_status text;
  v_hash text;
  v_owner integer;     -- the row's owner, by submission_no
  v_subno integer;     -- this submission's number
  v_key uuid;
  v_stored text;
  v_new boolean := false;
  v_locked boolean;
  v_audit_id bigint;
  v_logged_at timestamptz;
  v_txid xid8;
  v_sysid bigint;
  v_duration bigint;
BEGIN
  IF p_submission IS NULL OR p_external_id IS NULL OR p_external_id_type IS NULL OR p_column IS NULL THEN
    RAISE EXCEPTION 'submission, column, external id and its type must not be NULL' USING ERRCODE = '22004';
  END IF;
  SELECT t.target_id, t.alloc_seq INTO v_target, v_seq
    FROM idgraph.targets t WHERE t.table_oid = p_rel AND t.column_name = p_column;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'target %.% is not registered for allocation', p_rel, quote_ident(p_column)
      USING ERRCODE = '42704',
            HINT = 'An idgraph_admin registers targets with idgraph.register_target(table, column).';
  END IF;
  v_id := idgraph.normalize_external_id(p_external_id, p_external_id_type);
  -- The submission's lock in share mode: concurrent allocations into one submission go
  -- together; commit and rollback take it exclusively and so wait for them, and the status
  -- is read after it is granted, so nothing slips into a closed submission (the inlined
  -- body of idgraph._open_submission, which says why it is not a row lock).
  v_locked := idgraph._lock_submission(p_submission, false, true);
  IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN
    SELECT s.status, s.submission_no INTO v_status, v_subno FROM idgraph.submissions s WHERE s.submission_id = p_submission;
  ELSE
    SELECT s.status, s.submission_no INTO v_status, v_subno FROM idgraph.submissions s
     WHERE s.submission_id = p_submission FOR KEY SHARE;
  END IF;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'submission % does not exist', p_submission
      USING ERRCODE = 'P0002', HINT = 'Create one with idgraph.create_submission(name, source_system, data_type).';
  ELSIF v_status <> 'pending' THEN
    RAISE EXCEPTION 'submission % is %, it accepts no more allocations', p_submission, v_status
      USING ERRCODE = '55000', HINT = 'Create a new submission.';
  END IF;

  -- The row under the id's 16-byte key (idgraph.external_id_key), its owner's number and
  -- status: an allocation's status is its owner submission's.
  v_key := idgraph.external_id_key(v_id);
  SELECT a.alloc_integer_id, o.status, a.content_hash, a.submission_no, idgraph._external_id(a.natural_key, a.id_key)
    INTO v_alloc, v_status, v_hash, v_owner, v_stored
    FROM idgraph.allocation_rows a JOIN idgraph.submissions o ON o.submission_no = a.submission_no
   WHERE a.target_id = v_target AND a.id_key = v_key;
  IF FOUND THEN
    IF v_stored <> v_id THEN
      PERFORM idgraph._refuse_key_clash(v_id, v_stored, p_rel, p_column);
    END IF;
    v_status := idgraph._allocation_status(v_status);
    IF v_status = 'allocated' AND v_owner <> v_subno THEN
      -- Still pending in another submission: this one shares it (see allocation_shares).
      INSERT INTO idgraph.allocation_shares (target_id, external_id, submission_id)
      VALUES (v_target, v_id, p_submission) ON CONFLICT DO NOTHING;
    END IF;
    IF v_status = 'rolled_back' THEN
      -- It comes back: same integer, now owned by this submission (unless a concurrent
      -- call revived it first: then its owner is no longer the rolled-back one).
      UPDATE idgraph.allocation_rows a
         SET submission_no = v_subno, content_hash = coalesce(p_content_hash, a.content_hash)
       WHERE a.target_id = v_target AND a.id_key = v_key AND a.submission_no = v_owner;
      v_new := FOUND;
    ELSIF p_content_hash IS NOT NULL AND p_content_hash IS DISTINCT FROM v_hash THEN
      UPDATE idgraph.allocation_rows a SET content_hash = p_content_hash
       WHERE a.target_id = v_target AND a.id_key = v_key;
    END IF;
  ELSE
    INSERT INTO idgraph.allocation_rows AS a (alloc_integer_id, target_id, submission_no, id_key, natural_key,
                                              content_hash, external_system_id, external_data)
    VALUES (nextval(v_seq), v_target, v_subno, v_key, CASE WHEN p_external_id_type = 'natural_key' THEN v_id END,
            p_content_hash, p_external_system_id, p_external_data)
    ON CONFLICT ON CONSTRAINT allocation_rows_pkey DO NOTHING
    RETURNING a.alloc_integer_id INTO v_alloc;
    IF FOUND THEN
      v_new := true;
    ELSE
      -- Another session allocated it first and has committed (ON CONFLICT waited for it).
      SELECT a.alloc_integer_id, o.status, a.submission_no, idgraph._external_id(a.natural_key, a.id_key)
        INTO v_alloc, v_status, v_owner, v_stored
        FROM idgraph.allocation_rows a JOIN idgraph.submissions o ON o.submission_no = a.submission_no
       WHERE a.target_id = v_target AND a.id_key = v_key;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'could not serialize allocation of % (allocated concurrently)', v_id
          USING ERRCODE = '40001', HINT = 'Retry the transaction.';
      ELSIF v_stored <> v_id THEN
        PERFORM idgraph._refuse_key_clash(v_id, v_stored, p_rel, p_column);
      END IF;
      IF idgraph._allocation_status(v_status) = 'allocated' AND v_owner <> v_subno THEN
        INSERT INTO idgraph.allocation_shares (target_id, external_id, submission_id)
        VALUES (v_target, v_id, p_submission) ON CONFLICT DO NOTHING;
      END IF;
    END IF;
  END IF;

  -- The audit row with its hash: every column the hash covers is set here (the defaults'
  -- values), so that the row's hash is computed in this statement and the trigger, which
  -- fires only for rows that come without one, is not called. The canonical text is
  -- idgraph._audit_row_hash's, term for term (verify_audit recomputes it with that).
  v_audit_id := nextval('idgraph.audit_log_audit_id_seq'::regclass);
  v_logged_at := now();
  v_txid := pg_current_xact_id();
  v_sysid := idgraph._system_identifier();
  v_duration := (extract(epoch FROM clock_timestamp() - t0) * 1000000)::bigint;
  INSERT INTO idgraph.audit_log (audit_id, logged_at, actor, db_user, action, submission_id, target_id, external_id,
                                 alloc_integer_id, is_new, n_total, n_new, duration_us, txid, sysid, row_hash)
  VALUES (v_audit_id, v_logged_at, v_actor, session_user, 'allocate', p_submission, v_target, v_id,
          v_alloc, v_new, 1, v_new::integer, v_duration, v_txid, v_sysid,
          sha256(convert_to(concat_ws('|',
            v_audit_id, EXTRACT(epoch FROM v_logged_at), v_actor, session_user::text, 'allocate',
            p_submission::text, v_target::text, v_id, coalesce(v_alloc::text, '-'),
            v_new::text, 1, v_new::integer, '-', v_duration, v_txid, v_sysid), 'UTF8')));
  alloc_integer_id := v_alloc;
  is_new := v_new;
  RETURN NEXT;
END
$$;
COMMENT ON FUNCTION idgraph._allocate(uuid, regclass, text, text, text, text, text, jsonb) IS
  'Internal: allocate one id for a resolved target (called by idgraph.allocate and the sead_utility layer).';
DROP TRIGGER audit_log_hash ON idgraph.audit_log;
CREATE TRIGGER audit_log_hash BEFORE INSERT ON idgraph.audit_log
  FOR EACH ROW WHEN (NEW.row_hash IS NULL) EXECUTE FUNCTION idgraph._audit_before_insert();

-- == composite_availability and impact_analysis take p_detail (issue 10) ==
-- 'summary' (the default) or 'full' (0.1.0's whole listing): new signatures, so the old
-- functions go, and their grants with them (sqitch grants_graph_detail grants the new ones).
-- impact_analysis is no longer STRICT: a NULL argument is refused with 22004.
DROP FUNCTION idgraph.composite_availability(text, double precision);
DROP FUNCTION idgraph.impact_analysis(text, double precision);
-- idgraph::api::graph::composite_availability
CREATE OR REPLACE FUNCTION "composite_availability"(
	"p_service" TEXT, /* Option < & str > */
	"p_target" double precision DEFAULT NULL, /* Option < f64 > */
	"p_detail" TEXT DEFAULT 'summary' /* Option < & str > */
) RETURNS jsonb /* Jsonb */
STABLE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'composite_availability_wrapper';
-- idgraph::api::graph::impact_analysis
CREATE OR REPLACE FUNCTION "impact_analysis"(
	"p_service" TEXT, /* Option < & str > */
	"p_proposed_availability" double precision, /* Option < f64 > */
	"p_detail" TEXT DEFAULT 'summary' /* Option < & str > */
) RETURNS jsonb /* Jsonb */
STABLE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'impact_analysis_wrapper';
REVOKE ALL ON FUNCTION idgraph.composite_availability(text, double precision, text),
  idgraph.impact_analysis(text, double precision, text) FROM PUBLIC;

-- == graph: the change log the graph cache catches up from (issue 10; sql/graph_schema.sql) ==
-- A backend's cached graph that is behind re-reads only the services and pairs the newer
-- versions changed (pg_ext/src/graph_cache.rs). No version of 0.1.0 is in the log, so
-- log_floor starts at the current version: caches built before the upgrade reload once.
ALTER TABLE idgraph.graph_state ADD COLUMN log_floor bigint NOT NULL DEFAULT 0;
ALTER TABLE idgraph.graph_state ADD COLUMN tag bigint NOT NULL DEFAULT 0;
UPDATE idgraph.graph_state SET log_floor = version;
CREATE TABLE idgraph.graph_changes (
    version bigint NOT NULL,
    kind    "char" NOT NULL CHECK (kind IN ('s', 'e', 'o', 'v')),
    a       bigint,
    b       bigint
);
CREATE INDEX graph_changes_version_idx ON idgraph.graph_changes (version);
COMMENT ON TABLE idgraph.graph_changes IS
  'Change log of the graph per version, for backends catching their cached graph up (not dumped: a restored database starts without it).';
REVOKE ALL ON idgraph.graph_changes FROM PUBLIC;
CREATE OR REPLACE FUNCTION idgraph._graph_log_keep() RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 1024::bigint $$;
CREATE OR REPLACE FUNCTION idgraph._graph_bump(p_topology boolean, p_reset_log boolean) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v bigint;
  v_keep bigint := idgraph._graph_log_keep();
  v_tag bigint := (random() * 9.2e18)::bigint;
BEGIN
  UPDATE idgraph.graph_state
     SET version = version + 1,
         topology_version = topology_version + CASE WHEN p_topology THEN 1 ELSE 0 END,
         changed_at = now(),
         log_floor = CASE WHEN p_reset_log THEN version + 1 ELSE log_floor END,
         tag = v_tag
  RETURNING version INTO v;
  INSERT INTO idgraph.graph_changes (version, kind, a) VALUES (v, 'v', v_tag);
  IF v % v_keep = 0 THEN
    DELETE FROM idgraph.graph_changes WHERE version <= v - v_keep;
    UPDATE idgraph.graph_state SET log_floor = greatest(log_floor, v - v_keep);
  END IF;
  RETURN v;
END
$$;
CREATE OR REPLACE FUNCTION idgraph._bump_graph_version() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v bigint;
BEGIN
  v := idgraph._graph_bump(TG_ARGV[0] IS NOT DISTINCT FROM 'topology',
                           TG_OP = 'TRUNCATE' AND TG_TABLE_NAME <> 'slos');
  IF TG_TABLE_NAME = 'slos' THEN
    INSERT INTO idgraph.graph_changes (version, kind) VALUES (v, 'o');
  END IF;
  RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION idgraph._bump_graph_version_if_rows() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF NOT EXISTS (SELECT 1 FROM old_rows) THEN RETURN NULL; END IF;
  ELSIF NOT EXISTS (SELECT 1 FROM new_rows) THEN
    RETURN NULL;
  END IF;
  v := idgraph._graph_bump(TG_ARGV[0] IS NOT DISTINCT FROM 'topology', false);
  IF TG_TABLE_NAME = 'services' THEN
    IF TG_OP = 'INSERT' THEN
      INSERT INTO idgraph.graph_changes (version, kind, a) SELECT v, 's', n.service_pk FROM new_rows n;
    ELSIF TG_OP = 'DELETE' THEN
      INSERT INTO idgraph.graph_changes (version, kind, a) SELECT v, 's', o.service_pk FROM old_rows o;
    ELSE
      INSERT INTO idgraph.graph_changes (version, kind, a)
      SELECT v, 's', n.service_pk
        FROM new_rows n JOIN old_rows o USING (service_pk)
       WHERE (n.service_id, n.kind, n.availability, n.published_sla)
             IS DISTINCT FROM (o.service_id, o.kind, o.availability, o.published_sla);
    END IF;
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO idgraph.graph_changes (version, kind, a, b)
    SELECT DISTINCT v, 'e', n.source_pk, n.target_pk FROM new_rows n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO idgraph.graph_changes (version, kind, a, b)
    SELECT DISTINCT v, 'e', o.source_pk, o.target_pk FROM old_rows o;
  ELSE
    INSERT INTO idgraph.graph_changes (version, kind, a, b)
    SELECT DISTINCT v, 'e', x.s, x.t
      FROM new_rows n JOIN old_rows o USING (edge_pk),
           LATERAL (VALUES (n.source_pk, n.target_pk), (o.source_pk, o.target_pk)) x(s, t)
     WHERE (n.source_pk, n.target_pk, n.discovery_source, n.communication_mode, n.criticality,
            n.redundancy_group, n.stale)
           IS DISTINCT FROM
           (o.source_pk, o.target_pk, o.discovery_source, o.communication_mode, o.criticality,
            o.redundancy_group, o.stale);
  END IF;
  RETURN NULL;
END
$$;
-- Updates are logged only when a column the cache holds changed: the triggers see the old rows too.
DROP TRIGGER services_bump_version ON idgraph.services;
CREATE TRIGGER services_bump_version AFTER UPDATE ON idgraph.services REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._bump_graph_version_if_rows();
DROP TRIGGER edges_bump_version_update ON idgraph.edges;
CREATE TRIGGER edges_bump_version_update AFTER UPDATE ON idgraph.edges REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._bump_graph_version_if_rows();
-- A fresh install revokes PUBLIC's EXECUTE from every function (finalize.sql); so here.
REVOKE ALL ON FUNCTION idgraph._graph_log_keep(), idgraph._graph_bump(boolean, boolean) FROM PUBLIC;
-- This session's cache: how it got its graph (pg_ext/src/api/graph.rs), as pgrx generates it.
-- idgraph::api::graph::graph_cache_stats
CREATE OR REPLACE FUNCTION "graph_cache_stats"() RETURNS jsonb /* JsonB */
STRICT VOLATILE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'graph_cache_stats_wrapper';
REVOKE ALL ON FUNCTION idgraph.graph_cache_stats() FROM PUBLIC;

-- == graph: ingest scratch tables made once per session, a small document neither re-analyzes
--    nor truncates them (issue 10; sql/graph.sql) ==
CREATE OR REPLACE FUNCTION idgraph._ingest_apply(p_source text, p_observed_at timestamptz, p_nodes jsonb, p_edges jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_created integer := 0;
  v_updated integer := 0;
  v_placeholders integer := 0;
  v_edges_created integer := 0;
  v_edges_updated integer := 0;
  v_conflicts jsonb;
  -- A document of at most this many nodes plus edges is small: its scratch rows fit a page
  -- or two, so the statistics the scratch tables already have plan it well (nested loops
  -- over the indexes) and re-analyzing them, or truncating them twice (a new file each
  -- time), would cost it more than its writes.
  c_small constant integer := 64;
  v_small boolean := jsonb_array_length(coalesce(p_nodes, '[]')) + jsonb_array_length(coalesce(p_edges, '[]')) <= c_small;
  v_fresh boolean := false;
BEGIN
  PERFORM idgraph._graph_write_lock();
  -- Nodes: last occurrence of a service_id in the document wins.
  -- Scratch tables, made once per session and emptied at every commit (made and dropped
  -- per transaction, they cost a one-edge document more than its writes, and churn the
  -- catalog). IF NOT EXISTS would NOTICE on every later call.
  IF to_regclass('pg_temp.idgraph_ingest_nodes') IS NULL THEN
    CREATE TEMP TABLE idgraph_ingest_nodes (
      service_id text PRIMARY KEY, metadata jsonb, team text, criticality text, kind text,
      availability float8, published_sla float8) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE idgraph_ingest_edges (
      source text, target text, communication_mode text, criticality text, protocol text,
      timeout_ms integer, retry_config jsonb, redundancy_group text, confidence float8,
      source_pk integer, target_pk integer) ON COMMIT DELETE ROWS;
    v_fresh := true;
  END IF;
  -- Empty at the start of every transaction (the commit empties them); only an earlier
  -- small document in this transaction leaves rows (a large one truncates them at its end).
  DELETE FROM idgraph_ingest_nodes;
  DELETE FROM idgraph_ingest_edges;

  INSERT INTO idgraph_ingest_nodes
  SELECT DISTINCT ON (r.service_id) r.service_id, r.metadata, r.team, r.criticality, r.kind, r.availability, r.published_sla
    FROM jsonb_array_elements(coalesce(p_nodes, '[]')) WITH ORDINALITY AS e(v, ord),
         LATERAL jsonb_to_record(e.v) AS r(service_id text, metadata jsonb, team text, criticality text, kind text,
                                           availability float8, published_sla float8)
   ORDER BY r.service_id, e.ord DESC;
  -- Temp tables are never auto-analyzed; without statistics the joins below plan for a
  -- table of several pages and hash-join every service even for one node. Analyzed once
  -- per session, then for every large document (a small one is estimated from the pages
  -- it fills at the density last analyzed).
  IF v_fresh OR NOT v_small THEN
    ANALYZE idgraph_ingest_nodes;
  END IF;

  WITH changed AS (
    SELECT s.service_pk,
           (s.metadata || coalesce(n.metadata, '{}'::jsonb), coalesce(n.team, s.team), coalesce(n.criticality, s.criticality),
            coalesce(n.kind, s.kind), coalesce(n.availability, s.availability), coalesce(n.published_sla, s.published_sla), false)
             IS DISTINCT FROM
           (s.metadata, s.team, s.criticality, s.kind, s.availability, s.published_sla, s.discovered) AS changed
      FROM idgraph.services s JOIN idgraph_ingest_nodes n ON n.service_id = s.service_id
  ), upd AS (
    UPDATE idgraph.services s
       SET metadata = s.metadata || coalesce(n.metadata, '{}'::jsonb),
           team = coalesce(n.team, s.team),
           criticality = coalesce(n.criticality, s.criticality),
           kind = coalesce(n.kind, s.kind),
           availability = coalesce(n.availability, s.availability),
           published_sla = coalesce(n.published_sla, s.published_sla),
           discovered = false,
           updated_at = CASE WHEN c.changed THEN now() ELSE s.updated_at END,
           last_seen_at = greatest(s.last_seen_at, p_observed_at)
      FROM idgraph_ingest_nodes n, changed c
     WHERE n.service_id = s.service_id AND c.service_pk = s.service_pk
       -- Rows with nothing new (not even a later observation) are not rewritten.
       AND (c.changed OR s.last_seen_at < p_observed_at)
    RETURNING c.changed
  )
  SELECT count(*) FILTER (WHERE changed) INTO v_updated FROM upd;

  INSERT INTO idgraph.services (service_id, metadata, team, criticality, kind, availability, published_sla, last_seen_at)
  SELECT n.service_id, coalesce(n.metadata, '{}'::jsonb), n.team, n.criticality, coalesce(n.kind, 'internal'),
         n.availability, n.published_sla, p_observed_at
    FROM idgraph_ingest_nodes n
   WHERE NOT EXISTS (SELECT 1 FROM idgraph.services s WHERE s.service_id = n.service_id)
  ON CONFLICT (service_id) DO NOTHING;
  GET DIAGNOSTICS v_created = ROW_COUNT;

  -- Edges: last occurrence of a (source, target) pair in the document wins.
  -- Endpoints resolve to keys on the way in; only placeholders need a second look.
  INSERT INTO idgraph_ingest_edges (source, target, communication_mode, criticality, protocol, timeout_ms,
                                    retry_config, redundancy_group, confidence, source_pk, target_pk)
  SELECT DISTINCT ON (r.source, r.target) r.source, r.target, r.communication_mode, r.criticality, r.protocol,
         r.timeout_ms, r.retry_config, r.redundancy_group, r.confidence, s.service_pk, t.service_pk
    FROM jsonb_array_elements(coalesce(p_edges, '[]')) WITH ORDINALITY AS e(v, ord)
         CROSS JOIN LATERAL jsonb_to_record(e.v) AS r(source text, target text, communication_mode text, criticality text,
                                           protocol text, timeout_ms integer, retry_config jsonb,
                                           redundancy_group text, confidence float8)
         LEFT JOIN idgraph.services s ON s.service_id = r.source
         LEFT JOIN idgraph.services t ON t.service_id = r.target
   ORDER BY r.source, r.target, e.ord DESC;

  -- Unknown endpoints become placeholders (discovered = true).
  INSERT INTO idgraph.services (service_id, discovered, last_seen_at)
  SELECT DISTINCT x.id, true, p_observed_at
    FROM (SELECT source AS id FROM idgraph_ingest_edges WHERE source_pk IS NULL
          UNION SELECT target FROM idgraph_ingest_edges WHERE target_pk IS NULL) x
   WHERE NOT EXISTS (SELECT 1 FROM idgraph.services s WHERE s.service_id = x.id)
  ON CONFLICT (service_id) DO NOTHING;
  GET DIAGNOSTICS v_placeholders = ROW_COUNT;

  UPDATE idgraph_ingest_edges e
     SET source_pk = coalesce(e.source_pk, (SELECT s.service_pk FROM idgraph.services s WHERE s.service_id = e.source)),
         target_pk = coalesce(e.target_pk, (SELECT t.service_pk FROM idgraph.services t WHERE t.service_id = e.target))
   WHERE e.source_pk IS NULL OR e.target_pk IS NULL;
  IF v_fresh OR NOT v_small THEN
    ANALYZE idgraph_ingest_edges;
  END IF;

  WITH cur AS (
    SELECT d.edge_pk,
           (coalesce(e.communication_mode, d.communication_mode), coalesce(e.criticality, d.criticality),
            coalesce(e.protocol, d.protocol), coalesce(e.timeout_ms, d.timeout_ms), coalesce(e.retry_config, d.retry_config),
            coalesce(e.redundancy_group, d.redundancy_group), coalesce(e.confidence, d.confidence), false)
             IS DISTINCT FROM
           (d.communication_mode, d.criticality, d.protocol, d.timeout_ms, d.retry_config, d.redundancy_group,
            d.confidence, d.stale) AS changed,
           e.communication_mode, e.criticality, e.protocol, e.timeout_ms, e.retry_config, e.redundancy_group, e.confidence
      FROM idgraph_ingest_edges e
      JOIN idgraph.edges d ON d.source_pk = e.source_pk AND d.target_pk = e.target_pk AND d.discovery_source = p_source
  ), upd AS (
    UPDATE idgraph.edges d
       SET communication_mode = coalesce(c.communication_mode, d.communication_mode),
           criticality = coalesce(c.criticality, d.criticality),
           protocol = coalesce(c.protocol, d.protocol),
           timeout_ms = coalesce(c.timeout_ms, d.timeout_ms),
           retry_config = coalesce(c.retry_config, d.retry_config),
           redundancy_group = coalesce(c.redundancy_group, d.redundancy_group),
           confidence = coalesce(c.confidence, d.confidence),
           stale = false,
           last_observed_at = greatest(d.last_observed_at, p_observed_at)
      FROM cur c
     WHERE d.edge_pk = c.edge_pk
       AND (c.changed OR d.last_observed_at < p_observed_at)
    RETURNING c.changed
  )
  SELECT count(*) FILTER (WHERE changed) INTO v_edges_updated FROM upd;

  INSERT INTO idgraph.edges (source_pk, target_pk, discovery_source, communication_mode, criticality, protocol,
                             timeout_ms, retry_config, redundancy_group, confidence, first_observed_at, last_observed_at)
  SELECT e.source_pk, e.target_pk, p_source, coalesce(e.communication_mode, 'sync'), coalesce(e.criticality, 'hard'),
         e.protocol, e.timeout_ms, e.retry_config, e.redundancy_group, coalesce(e.confidence, 1.0), p_observed_at, p_observed_at
    FROM idgraph_ingest_edges e
   WHERE NOT EXISTS (SELECT 1 FROM idgraph.edges d
                      WHERE d.source_pk = e.source_pk AND d.target_pk = e.target_pk AND d.discovery_source = p_source)
  ON CONFLICT (source_pk, target_pk, discovery_source) DO NOTHING;
  GET DIAGNOSTICS v_edges_created = ROW_COUNT;

  -- Other sources that disagree with this one about a pair in the document (none to look
  -- for while every edge comes from this source).
  v_conflicts := '[]'::jsonb;
  IF EXISTS (SELECT 1 FROM idgraph.edges o WHERE o.discovery_source <> p_source) THEN
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'source', c.source, 'target', c.target, 'fields', c.fields,
           'values', jsonb_build_object(p_source, c.mine, c.other_source, c.theirs),
           'effective_source', CASE WHEN idgraph.discovery_priority(p_source) < idgraph.discovery_priority(c.other_source)
                                    THEN p_source ELSE c.other_source END)
           ORDER BY c.source, c.target, c.other_source), '[]'::jsonb)
    INTO v_conflicts
    FROM (
      SELECT e.source, e.target, o.discovery_source AS other_source,
             to_jsonb(array_remove(ARRAY[
               CASE WHEN m.communication_mode <> o.communication_mode THEN 'communication_mode' END,
               CASE WHEN m.criticality <> o.criticality THEN 'criticality' END,
               CASE WHEN m.protocol <> o.protocol THEN 'protocol' END,
               CASE WHEN m.timeout_ms <> o.timeout_ms THEN 'timeout_ms' END,
               CASE WHEN m.redundancy_group <> o.redundancy_group THEN 'redundancy_group' END], NULL)) AS fields,
             jsonb_build_object('communication_mode', m.communication_mode, 'criticality', m.criticality,
                                'protocol', m.protocol, 'timeout_ms', m.timeout_ms, 'redundancy_group', m.redundancy_group) AS mine,
             jsonb_build_object('communication_mode', o.communication_mode, 'criticality', o.criticality,
                                'protocol', o.protocol, 'timeout_ms', o.timeout_ms, 'redundancy_group', o.redundancy_group) AS theirs
        FROM idgraph_ingest_edges e
        JOIN idgraph.edges m ON m.source_pk = e.source_pk AND m.target_pk = e.target_pk AND m.discovery_source = p_source
        JOIN idgraph.edges o ON o.source_pk = e.source_pk AND o.target_pk = e.target_pk
                            AND o.discovery_source <> p_source AND NOT o.stale
    ) c
   WHERE jsonb_array_length(c.fields) > 0;
  END IF;

  -- A large document's rows are not kept until the commit.
  IF NOT v_small THEN
    TRUNCATE idgraph_ingest_nodes, idgraph_ingest_edges;
  END IF;
  RETURN jsonb_build_object(
    'received', jsonb_build_object('nodes', jsonb_array_length(coalesce(p_nodes, '[]')),
                                   'edges', jsonb_array_length(coalesce(p_edges, '[]'))),
    'created', jsonb_build_object('services', v_created, 'edges', v_edges_created),
    'updated', jsonb_build_object('services', v_updated, 'edges', v_edges_updated),
    'placeholders', v_placeholders,
    'conflicts', v_conflicts);
END
$$;
COMMENT ON FUNCTION idgraph._ingest_apply(text, timestamptz, jsonb, jsonb) IS
  'Internal: writes a validated ingest document (called by idgraph.ingest_graph).';

-- == centrality: refresh from the cached graph snapshot, writing only changed rows (issue 10; sql/centrality.sql) ==
-- refresh_centrality() takes its topology from the graph functions' snapshot and writes
-- only the rows whose values changed; the last refresh's topology version lives in
-- idgraph.centrality_state, and a row's betweenness is current when that version is the
-- graph's. Seeded from the rows as 0.1.0 left them (every refresh stamped every row).
CREATE TABLE idgraph.centrality_state (
    singleton               boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    betweenness_version     bigint,       -- topology version of the last refresh
    betweenness_mode        text,         -- its mode: 'exact' or 'sampled:<k>'
    betweenness_computed_at timestamptz,  -- when it ran
    rows_written            integer       -- rows of idgraph.centrality it changed
);
INSERT INTO idgraph.centrality_state DEFAULT VALUES;
UPDATE idgraph.centrality_state r
   SET betweenness_version = c.betweenness_version, betweenness_mode = c.betweenness_mode,
       betweenness_computed_at = c.betweenness_computed_at
  FROM (SELECT betweenness_version, betweenness_mode, betweenness_computed_at FROM idgraph.centrality
         WHERE betweenness_version IS NOT NULL
         ORDER BY betweenness_version DESC, betweenness_computed_at DESC LIMIT 1) c;
COMMENT ON TABLE idgraph.centrality_state IS
  'The last idgraph.refresh_centrality(): topology version, mode, time and rows written (only changed rows are).';
REVOKE ALL ON idgraph.centrality_state FROM PUBLIC;
CREATE OR REPLACE FUNCTION idgraph.centrality_of(p_service text)
RETURNS TABLE (service text, in_degree integer, out_degree integer, degree integer, betweenness float8,
               betweenness_normalized float8, clustering float8, graph_version bigint, computed_at timestamptz,
               betweenness_version bigint, betweenness_computed_at timestamptz, betweenness_stale boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY
    -- A row with a betweenness was written or confirmed by the last refresh: its value is
    -- that refresh's (version, time).
    SELECT c.service, c.in_degree, c.out_degree, c.degree, c.betweenness, c.betweenness_normalized, c.clustering,
           c.graph_version, c.computed_at,
           CASE WHEN c.betweenness IS NOT NULL THEN r.betweenness_version END,
           CASE WHEN c.betweenness IS NOT NULL THEN r.betweenness_computed_at END,
           c.betweenness IS NULL OR r.betweenness_version IS DISTINCT FROM g.topology_version
      FROM idgraph.centrality c, idgraph.graph_state g, idgraph.centrality_state r
     WHERE c.service_pk = idgraph._service_pk(p_service);
  IF NOT FOUND THEN
    -- A known service without a row has no edges yet: all zeros, betweenness unknown.
    RETURN QUERY
      SELECT p_service, 0, 0, 0, NULL::float8, NULL::float8, 0::float8, g.topology_version, now(),
             NULL::bigint, NULL::timestamptz, true
        FROM idgraph.graph_state g;
  END IF;
END
$$;
COMMENT ON FUNCTION idgraph.centrality_of(text) IS
  'Centrality of one service from the materialized table, saying whether its betweenness is stale. Example: SELECT * FROM idgraph.centrality_of(''checkout'');';
CREATE OR REPLACE FUNCTION idgraph.centrality_top(p_metric text, p_k integer DEFAULT 10)
RETURNS TABLE (rank bigint, service text, value float8, in_degree integer, out_degree integer, degree integer,
               betweenness float8, betweenness_normalized float8, clustering float8, stale boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_current boolean;
BEGIN
  IF p_metric IS NULL OR p_metric NOT IN ('betweenness', 'betweenness_normalized', 'degree', 'in_degree', 'out_degree', 'clustering') THEN
    RAISE EXCEPTION 'metric must be one of betweenness, betweenness_normalized, degree, in_degree, out_degree, clustering; got %', p_metric
      USING ERRCODE = '22023';
  END IF;
  IF p_k IS NULL OR p_k < 1 OR p_k > 10000 THEN
    RAISE EXCEPTION 'k must be between 1 and 10000, got %', p_k USING ERRCODE = '22023';
  END IF;
  SELECT r.betweenness_version IS NOT DISTINCT FROM g.topology_version INTO v_current
    FROM idgraph.graph_state g, idgraph.centrality_state r;
  -- The metric is whitelisted above; %I quotes it anyway. ORDER BY the bare column so the
  -- per-metric index serves the top-k. Degree and clustering are kept current by the edge
  -- trigger, so only betweenness can be stale.
  RETURN QUERY EXECUTE format(
    'SELECT row_number() OVER (ORDER BY t.%1$I DESC NULLS LAST, t.service), t.service, t.%1$I::float8,
            t.in_degree, t.out_degree, t.degree, t.betweenness, t.betweenness_normalized, t.clustering,
            CASE WHEN %2$L IN (''betweenness'', ''betweenness_normalized'')
                 THEN t.betweenness IS NULL OR NOT $1 ELSE false END
       FROM (SELECT * FROM idgraph.centrality c ORDER BY c.%1$I DESC NULLS LAST LIMIT $2) t
      ORDER BY 1', p_metric, p_metric)
    USING v_current, p_k;
END
$$;
COMMENT ON FUNCTION idgraph.centrality_top(text, integer) IS
  'Top k services by a centrality metric, read from the materialized table; each row says whether its value is stale. Example: SELECT * FROM idgraph.centrality_top(''betweenness'', 20);';

-- == identity: allocations in at most 120 bytes; commit and rollback write the submission, not its rows
-- (issue 9; sql/schema.sql, identity_submissions.sql, identity_allocation.sql, identity_resolution.sql,
-- identity_targets.sql, pg_ext/src/api/identity.rs) ==
-- The table idgraph.allocations becomes idgraph.allocation_rows (16-byte key, owner by
-- submission number, no status, no per-row time or maker) read through a view of the old
-- name and columns. Its rows are carried across: an allocation a sharer committed while
-- its owner was still pending (or had rolled back) is owned by that sharer from now on,
-- since status is now the owner's; each row's own created_at / created_by is kept in
-- idgraph.allocation_origins. A row whose status would change refuses the upgrade.
-- idgraph::api::identity::external_id_key
CREATE OR REPLACE FUNCTION "external_id_key"(
	"p_external_id" TEXT /* & str */
) RETURNS uuid /* pgrx :: Uuid */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'external_id_key_wrapper';
-- idgraph::api::identity::external_id_keys
CREATE OR REPLACE FUNCTION "external_id_keys"(
	"p_external_ids" TEXT[] /* Vec < Option < String > > */
) RETURNS uuid[] /* Vec < Option < pgrx :: Uuid > > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'external_id_keys_wrapper';
GRANT EXECUTE ON FUNCTION idgraph.external_id_key(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION idgraph.external_id_keys(text[]) TO PUBLIC;
ALTER TABLE idgraph.submissions ADD COLUMN submission_no serial NOT NULL UNIQUE;
-- An allocation's status, from its owner submission's: the one rule.
CREATE FUNCTION idgraph._allocation_status(p_submission_status text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE p_submission_status WHEN 'committed' THEN 'committed'
                                  WHEN 'rolled_back' THEN 'rolled_back'
                                  WHEN 'failed' THEN 'rolled_back'
                                  ELSE 'allocated' END
$$;
COMMENT ON FUNCTION idgraph._allocation_status(text) IS
  'The status of an allocation owned by a submission of this status (internal: allocations have no status of their own).';

-- ---------------------------------------------------------------------------
-- Allocations: (target, external id) -> integer, forever.
--
-- The layout is sized for a billion rows (issue 9: at most 120 bytes per committed
-- allocation, table and indexes together):
--   * a uuid external id is kept as its 16 bytes (id_key), a natural key as its text
--     beside a 16-byte key from its sha256 (idgraph.external_id_key), so that the one
--     btree is over (target_id, id_key): 36 bytes an entry whatever the id;
--   * the owner is the submission's 4-byte number, and the row has no status: an
--     allocation is pending, committed or rolled back as its owner is, so that commit
--     and rollback write the submission's row, not every allocation row; the rows that
--     change owner (revived, handed over, committed by a sharer) are the only ones written;
--   * the integer and the owner are found by BRIN (rollback, resolve_integer): a few bytes
--     per 16 pages, where a btree on each cost 30 and 14 bytes a row. Integers are unique
--     per target because each target draws them from its own guarded sequence
--     (idgraph.register_target, idgraph._guard_sequence_ddl).
-- Up to eight columns, so that the row's null bitmap fits its 24-byte header: a uuid
-- allocation without content hash or data is 56 bytes + a 4-byte line pointer.
-- When and by whom each allocation was made is in its audit row (idgraph.audit_log).
-- ---------------------------------------------------------------------------
CREATE TABLE idgraph.allocation_rows (
    alloc_integer_id   bigint NOT NULL,
    target_id          integer NOT NULL,
    submission_no      integer NOT NULL,   -- the owner: idgraph.submissions.submission_no
    id_key             uuid NOT NULL,      -- idgraph.external_id_key(external id)
    natural_key        text,               -- the external id of a natural key; NULL for a uuid
    content_hash       text,
    external_system_id text,
    external_data      jsonb,
    CONSTRAINT allocation_rows_pkey PRIMARY KEY (target_id, id_key)
);
CREATE INDEX allocation_rows_owner_brin ON idgraph.allocation_rows
  USING brin (submission_no) WITH (pages_per_range = 16, autosummarize = on);
CREATE INDEX allocation_rows_integer_brin ON idgraph.allocation_rows
  USING brin (target_id, alloc_integer_id) WITH (pages_per_range = 16, autosummarize = on);
COMMENT ON TABLE idgraph.allocation_rows IS
  'Storage of the allocations (read them through the view idgraph.allocations): one row per (target, external id key), its integer forever, its owner submission. Rows are never deleted.';

-- Allocations made before 0.2.0 had their own time and maker in the row: the upgrade
-- keeps them here (a fresh install leaves it empty).
CREATE TABLE idgraph.allocation_origins (
    target_id   integer NOT NULL,
    id_key      uuid NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  text NOT NULL,
    PRIMARY KEY (target_id, id_key)
);
COMMENT ON TABLE idgraph.allocation_origins IS
  'When and by whom each allocation made before 0.2.0 was created (0.2.0 keeps that in the audit rows instead).';

SELECT pg_catalog.pg_extension_config_dump('idgraph.submissions_submission_no_seq', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.allocation_rows', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.allocation_origins', '');
INSERT INTO idgraph.allocation_rows (alloc_integer_id, target_id, submission_no, id_key, natural_key,
                                     content_hash, external_system_id, external_data)
SELECT a.alloc_integer_id, a.target_id, coalesce(c.submission_no, s.submission_no), idgraph.external_id_key(a.external_id),
       CASE WHEN a.external_id_type = 'natural_key' THEN a.external_id END,
       a.content_hash, a.external_system_id, a.external_data
  FROM idgraph.allocations a
  JOIN idgraph.submissions s ON s.submission_id = a.submission_id
  LEFT JOIN LATERAL (
    -- Committed by a sharer while its owner was not committed: that sharer owns it now.
    SELECT cs.submission_no FROM idgraph.allocation_shares sh
      JOIN idgraph.submissions cs ON cs.submission_id = sh.submission_id AND cs.status = 'committed'
     WHERE a.status = 'committed' AND s.status <> 'committed'
       AND sh.target_id = a.target_id AND sh.external_id = a.external_id
     ORDER BY cs.committed_at, cs.submission_no LIMIT 1) c ON true;
INSERT INTO idgraph.allocation_origins (target_id, id_key, created_at, created_by)
SELECT a.target_id, idgraph.external_id_key(a.external_id), a.created_at, a.created_by FROM idgraph.allocations a;
DO $$
DECLARE
  v_bad bigint;
BEGIN
  SELECT count(*) INTO v_bad
    FROM idgraph.allocations a
    JOIN idgraph.allocation_rows r ON r.target_id = a.target_id AND r.id_key = idgraph.external_id_key(a.external_id)
    JOIN idgraph.submissions s ON s.submission_no = r.submission_no
   WHERE idgraph._allocation_status(s.status) <> a.status;
  IF v_bad > 0 OR (SELECT count(*) FROM idgraph.allocations) <> (SELECT count(*) FROM idgraph.allocation_rows) THEN
    RAISE EXCEPTION '% allocations would change status in the upgrade; nothing was changed', v_bad
      USING ERRCODE = '55000', HINT = 'Report it: every 0.1.0 allocation''s status follows from its submission''s or a committed sharer''s.';
  END IF;
END
$$;
-- The old table's privileges go to the view that takes its name (grants_api gave them).
-- (Kept in a transaction-local setting: a table made here would become the extension's.)
SELECT pg_catalog.set_config('idgraph_upgrade.allocations_acl',
         coalesce(string_agg(format('GRANT %s ON idgraph.allocations TO %I;', x.privilege_type,
                                    pg_catalog.pg_get_userbyid(x.grantee)), ' '
                             ORDER BY pg_catalog.pg_get_userbyid(x.grantee), x.privilege_type), ''), true)
  FROM pg_class c, aclexplode(c.relacl) x
 WHERE c.oid = 'idgraph.allocations'::regclass AND x.grantee <> c.relowner AND x.grantee <> 0;
ALTER TABLE idgraph.allocation_shares DROP CONSTRAINT allocation_shares_target_id_external_id_fkey;
-- Out of the extension first: that also takes it off the extension's configuration
-- tables (pg_extension.extconfig), which DROP TABLE alone would leave naming its oid.
ALTER EXTENSION idgraph DROP TABLE idgraph.allocations;
DROP TABLE idgraph.allocations;
-- An allocation row's external id and its type (inlined where they are used).
CREATE OR REPLACE FUNCTION idgraph._external_id(p_natural_key text, p_id_key uuid) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(p_natural_key, p_id_key::text) $$;
COMMENT ON FUNCTION idgraph._external_id(text, uuid) IS
  'The external id of an allocation row: its natural key, else its uuid key (internal).';
CREATE OR REPLACE FUNCTION idgraph._external_id_type(p_natural_key text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN p_natural_key IS NULL THEN 'uuid' ELSE 'natural_key' END $$;
COMMENT ON FUNCTION idgraph._external_id_type(text) IS
  'The external id type of an allocation row: natural_key when it keeps a natural key''s text, else uuid (internal).';
-- What an allocation is, in the words of 0.1.0's table of this name: its external id and
-- type, its status (its owner's), and when its owner was created and committed.
CREATE VIEW idgraph.allocations AS
SELECT a.target_id,
       idgraph._external_id(a.natural_key, a.id_key) AS external_id,
       a.alloc_integer_id,
       idgraph._external_id_type(a.natural_key) AS external_id_type,
       s.submission_id,
       idgraph._allocation_status(s.status) AS status,
       a.content_hash,
       a.external_system_id,
       a.external_data,
       coalesce(g.created_at, s.created_at) AS created_at,
       coalesce(g.created_by, s.created_by) AS created_by,
       CASE WHEN s.status = 'committed' THEN s.committed_at END AS committed_at
  FROM idgraph.allocation_rows a
  JOIN idgraph.submissions s ON s.submission_no = a.submission_no
  LEFT JOIN idgraph.allocation_origins g ON g.target_id = a.target_id AND g.id_key = a.id_key;
COMMENT ON VIEW idgraph.allocations IS
  'One row per (target, external id): its integer, forever, and its status, which is its owner submission''s (pending: allocated). Rolled-back rows keep their integer reserved for the same external id. created_at / created_by are the owner submission''s (of an allocation made before 0.2.0: its own); the audit row of each call has its own time and actor.';

-- Allocations are written by idgraph's functions only: the view refuses writes (a role
-- without privileges on it gets 42501 before this, from the privilege check).
CREATE FUNCTION idgraph._allocations_read_only() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  RAISE EXCEPTION 'idgraph.allocations is written only by idgraph''s functions (allocate, allocate_batch, commit_submission, rollback_submission)'
    USING ERRCODE = '42501';
END
$$;
CREATE TRIGGER allocations_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON idgraph.allocations
  FOR EACH ROW EXECUTE FUNCTION idgraph._allocations_read_only();

DO $$
BEGIN
  IF pg_catalog.current_setting('idgraph_upgrade.allocations_acl') <> '' THEN
    EXECUTE pg_catalog.current_setting('idgraph_upgrade.allocations_acl');
  END IF;
END
$$;
REVOKE ALL ON idgraph.allocation_rows, idgraph.allocation_origins FROM PUBLIC;
CREATE OR REPLACE FUNCTION idgraph._refuse_key_clash(p_external_id text, p_stored text, p_rel regclass, p_column text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  RAISE EXCEPTION 'external id % shares its key with % in %.%', quote_literal(left(p_external_id, 100)),
                  quote_literal(left(p_stored, 100)), p_rel, quote_ident(p_column)
    USING ERRCODE = '23505', HINT = 'The two ids hash to one key (idgraph.external_id_key); this one cannot be allocated.';
END
$$;
COMMENT ON FUNCTION idgraph._refuse_key_clash(text, text, regclass, text) IS
  'Raises 23505 for an external id whose key another id holds (internal to allocate / allocate_batch).';
REVOKE ALL ON FUNCTION idgraph._allocation_status(text), idgraph._allocations_read_only(),
                       idgraph._open_submission(uuid), idgraph._external_id(text, uuid), idgraph._external_id_type(text),
                       idgraph._refuse_key_clash(text, text, regclass, text) FROM PUBLIC;
REVOKE ALL ON SEQUENCE idgraph.submissions_submission_no_seq FROM PUBLIC;
CREATE OR REPLACE FUNCTION idgraph._allocate_batch(
    p_submission uuid, p_rel regclass, p_column text, p_external_ids text[],
    p_external_id_type text, p_content_hashes text[])
RETURNS TABLE (ordinality bigint, external_id text, alloc_integer_id bigint, is_new boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  v_actor text := idgraph._actor();
  v_t idgraph.targets;
  v_cap integer := coalesce(nullif(current_setting('idgraph.max_batch_size', true), '')::integer, 10000);
  v_n integer := coalesce(cardinality(p_external_ids), 0);
  v_norm text[];
  v_exts text[];      -- distinct external ids, sorted
  v_ids bigint[];     -- their integers
  v_new boolean[];    -- whether this call created (or revived) them
  v_first bigint[];   -- the position of their first occurrence in the input
  v_missing text[];
  v_shared text[];    -- ids still pending in another submission: this one shares them
  v_count_new integer;
  v_subno integer;    -- this submission's number
  v_clash record;
BEGIN
  IF p_external_ids IS NULL OR p_external_id_type IS NULL THEN
    RAISE EXCEPTION 'external ids and their type must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF v_n > v_cap THEN
    RAISE EXCEPTION 'batch of % external ids exceeds the limit of %', v_n, v_cap
      USING ERRCODE = '54000', HINT = 'Split the batch, or raise idgraph.max_batch_size.';
  END IF;
  IF p_content_hashes IS NOT NULL AND cardinality(p_content_hashes) <> v_n THEN
    RAISE EXCEPTION 'content hashes (%) and external ids (%) differ in number', cardinality(p_content_hashes), v_n
      USING ERRCODE = '22023';
  END IF;
  v_t := idgraph._target(p_rel, p_column);
  v_norm := idgraph.normalize_external_ids(p_external_ids, p_external_id_type);
  v_subno := idgraph._open_submission(p_submission);

  -- Rolled-back ids come back under a row lock. Take those locks first, in key order, so
  -- that concurrent batches reviving overlapping ids cannot deadlock (the UPDATE below
  -- would lock them in whatever order its join produces).
  PERFORM 1 FROM idgraph.allocation_rows a JOIN idgraph.submissions o ON o.submission_no = a.submission_no
   WHERE a.target_id = v_t.target_id AND a.id_key = ANY (idgraph.external_id_keys(v_norm))
     AND idgraph._allocation_status(o.status) = 'rolled_back'
   ORDER BY a.id_key
     FOR NO KEY UPDATE OF a;  -- the UPDATE's own lock strength

  -- One statement: look up what exists (one index probe per distinct id, under its
  -- 16-byte key), bring rolled-back ids back, insert the missing ones in key order (so
  -- concurrent batches over overlapping ids take index locks in the same order and cannot
  -- deadlock), and collect every distinct id's integer from the lookup or the RETURNING.
  WITH input AS (
    SELECT u.ext, idgraph.external_id_key(u.ext) AS key, min(u.ord) AS ord
      FROM unnest(v_norm) WITH ORDINALITY AS u(ext, ord) GROUP BY u.ext
  ), probe AS (
    SELECT i.ext, i.key, i.ord, p_content_hashes[i.ord] AS hash, x.alloc_integer_id,
           idgraph._allocation_status(x.owner_status) AS status, x.submission_no AS owner, x.stored
      FROM input i
      LEFT JOIN LATERAL (SELECT a.alloc_integer_id, o.status AS owner_status, a.submission_no,
                                idgraph._external_id(a.natural_key, a.id_key) AS stored
                           FROM idgraph.allocation_rows a JOIN idgraph.submissions o ON o.submission_no = a.submission_no
                          WHERE a.target_id = v_t.target_id AND a.id_key = i.key) x ON true
  ), revived AS (
    UPDATE idgraph.allocation_rows a
       SET submission_no = v_subno, content_hash = coalesce(p.hash, a.content_hash)
      FROM probe p
     WHERE p.status = 'rolled_back' AND p.stored = p.ext
       AND a.target_id = v_t.target_id AND a.id_key = p.key AND a.submission_no = p.owner
    RETURNING a.id_key
  ), inserted AS (
    INSERT INTO idgraph.allocation_rows AS a (alloc_integer_id, target_id, submission_no, id_key, natural_key, content_hash)
    SELECT m.id, v_t.target_id, v_subno, m.key, CASE WHEN p_external_id_type = 'natural_key' THEN m.ext END, m.hash
      FROM (SELECT q.key, q.ext, q.hash, nextval(v_t.alloc_seq) AS id  -- integers in external-id order
              FROM (SELECT p.key, p.ext, p.hash FROM probe p WHERE p.alloc_integer_id IS NULL ORDER BY p.ext) q) m
     ORDER BY m.key
    ON CONFLICT ON CONSTRAINT allocation_rows_pkey DO NOTHING
    RETURNING a.id_key, a.alloc_integer_id
  )
  -- The arrays in one byte order (COLLATE "C": any fixed order zips them, and it sorts by
  -- memcmp, several times faster than the database's collation).
  SELECT array_agg(p.ext ORDER BY p.ext COLLATE "C"),
         array_agg(CASE WHEN p.stored IS NULL OR p.stored = p.ext THEN coalesce(p.alloc_integer_id, n.alloc_integer_id) END
                   ORDER BY p.ext COLLATE "C"),
         array_agg(n.id_key IS NOT NULL OR r.id_key IS NOT NULL ORDER BY p.ext COLLATE "C"),
         array_agg(p.ord ORDER BY p.ext COLLATE "C"),
         array_agg(p.ext) FILTER (WHERE p.status = 'allocated' AND p.owner <> v_subno AND p.stored = p.ext)
    INTO v_exts, v_ids, v_new, v_first, v_shared
    FROM probe p
    LEFT JOIN inserted n ON n.id_key = p.key
    LEFT JOIN revived r ON r.id_key = p.key;

  -- Ids a concurrent batch inserted while we waited on it (ON CONFLICT skipped them): a
  -- fresh statement (fresh snapshot under READ COMMITTED) sees them now. An id whose key
  -- is another id's (idgraph.external_id_key) is refused here too, and the statement's
  -- writes with it.
  SELECT array_agg(e.ext) INTO v_missing
    FROM unnest(v_exts, v_ids) AS e(ext, id) WHERE e.id IS NULL;
  IF v_missing IS NOT NULL THEN
    SELECT e.ext, idgraph._external_id(f.natural_key, f.id_key) AS stored INTO v_clash
      FROM unnest(v_missing) AS e(ext)
      JOIN idgraph.allocation_rows f ON f.target_id = v_t.target_id AND f.id_key = idgraph.external_id_key(e.ext)
     WHERE idgraph._external_id(f.natural_key, f.id_key) <> e.ext
     LIMIT 1;
    IF FOUND THEN
      PERFORM idgraph._refuse_key_clash(v_clash.ext, v_clash.stored, p_rel, p_column);
    END IF;
    SELECT array_agg(coalesce(f.alloc_integer_id, e.id) ORDER BY e.ord) INTO v_ids
      FROM unnest(v_exts, v_ids) WITH ORDINALITY AS e(ext, id, ord)
      LEFT JOIN idgraph.allocation_rows f
        ON e.id IS NULL AND f.target_id = v_t.target_id AND f.id_key = idgraph.external_id_key(e.ext);
    IF array_position(v_ids, NULL) IS NOT NULL THEN
      RAISE EXCEPTION 'could not serialize a batch allocation (ids allocated concurrently)'
        USING ERRCODE = '40001', HINT = 'Retry the transaction (use READ COMMITTED for batch allocation).';
    END IF;
    v_shared := coalesce(v_shared, '{}') || ARRAY(
      SELECT e.ext FROM unnest(v_missing) AS e(ext)
        JOIN idgraph.allocation_rows f ON f.target_id = v_t.target_id AND f.id_key = idgraph.external_id_key(e.ext)
        JOIN idgraph.submissions o ON o.submission_no = f.submission_no
       WHERE idgraph._allocation_status(o.status) = 'allocated' AND f.submission_no <> v_subno);
  END IF;
  IF cardinality(v_shared) > 0 THEN
    INSERT INTO idgraph.allocation_shares (target_id, external_id, submission_id)
    SELECT v_t.target_id, x.ext, p_submission FROM unnest(v_shared) AS x(ext) ORDER BY x.ext
    ON CONFLICT DO NOTHING;
  END IF;
  SELECT count(*) FILTER (WHERE x) INTO v_count_new FROM unnest(v_new) x;

  INSERT INTO idgraph.audit_log (actor, action, submission_id, target_id, n_total, n_new, detail, duration_us, sysid)
  VALUES (v_actor, 'allocate_batch', p_submission, v_t.target_id, v_n, v_count_new,
          jsonb_build_object('distinct', cardinality(v_exts), 'type', p_external_id_type,
                             'ids_sha256', encode(sha256(convert_to(array_to_string(v_norm, E'\n'), 'UTF8')), 'hex')),
          (extract(epoch FROM clock_timestamp() - t0) * 1000000)::bigint, idgraph._system_identifier());

  -- Back to input order; a duplicate shares its integer, is_new only on its first occurrence.
  RETURN QUERY
    SELECT u.ord, u.ext, d.id, d.is_new AND u.ord = d.first
      FROM unnest(v_norm) WITH ORDINALITY AS u(ext, ord)
      JOIN unnest(v_exts, v_ids, v_new, v_first) AS d(ext, id, is_new, first) ON d.ext = u.ext
     ORDER BY u.ord;
END
$$;
COMMENT ON FUNCTION idgraph._allocate_batch(uuid, regclass, text, text[], text, text[]) IS
  'Internal: set-based batch allocation for a resolved target (called by idgraph.allocate_batch and sead_utility).';
CREATE OR REPLACE FUNCTION idgraph.commit_submission(p_submission uuid, p_change_request_id text DEFAULT NULL)
RETURNS TABLE (submission_id uuid, status text, committed_at timestamptz, allocations_committed bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  v idgraph.submissions;
  v_n bigint;
  v_shared bigint;
BEGIN
  v := idgraph._close_submission(p_submission, 'committed');
  SELECT count(*) INTO v_n FROM idgraph.allocation_rows a WHERE a.submission_no = v.submission_no;
  -- Ids this submission used while another pending submission owned them are committed
  -- too (its data refers to them), and so are those rolled back meanwhile: both become
  -- this submission's.
  UPDATE idgraph.allocation_rows a SET submission_no = v.submission_no
    FROM idgraph.allocation_shares sh, idgraph.submissions o
   WHERE sh.submission_id = p_submission
     AND a.target_id = sh.target_id AND a.id_key = idgraph.external_id_key(sh.external_id)
     AND o.submission_no = a.submission_no AND a.submission_no <> v.submission_no
     AND idgraph._allocation_status(o.status) <> 'committed';
  GET DIAGNOSTICS v_shared = ROW_COUNT;
  v_n := v_n + v_shared;
  UPDATE idgraph.submissions s SET status = 'committed', committed_at = now(),
         change_request_id = coalesce(p_change_request_id, s.change_request_id)
   WHERE s.submission_id = p_submission;
  PERFORM idgraph._audit('commit', p_submission, NULL, NULL, NULL, NULL, v_n::integer, 0,
                         jsonb_build_object('change_request_id', p_change_request_id, 'shared', v_shared), t0);
  RETURN QUERY SELECT p_submission, 'committed'::text, now(), v_n;
END
$$;
COMMENT ON FUNCTION idgraph.commit_submission(uuid, text) IS
$$Commits a pending submission: its allocations become committed (the submission's row is written, not theirs). 55000 when already committed or rolled back.
Example: SELECT * FROM idgraph.commit_submission(sub, 'CR-42');$$;
CREATE OR REPLACE FUNCTION idgraph.rollback_submission(p_submission uuid, p_reason text DEFAULT NULL)
RETURNS TABLE (submission_id uuid, status text, rolled_back_at timestamptz, allocations_affected bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  v idgraph.submissions;
  v_n bigint;
  v_handed bigint;
BEGIN
  v := idgraph._close_submission(p_submission, 'rolled_back');
  -- An id another pending submission also used is handed over to it (the earliest), not
  -- rolled back: that submission's data refers to the integer.
  -- Driven from this submission's rows, one probe of allocation_shares' key per row (the
  -- LATERAL ... LIMIT 1 fixes that plan: a plan made without statistics once scanned all
  -- shares for each row).
  UPDATE idgraph.allocation_rows a SET submission_no = h.sharer
    FROM (SELECT m.target_id, m.id_key, n.sharer
            FROM (SELECT x.target_id, x.id_key, idgraph._external_id(x.natural_key, x.id_key) AS ext
                    FROM idgraph.allocation_rows x WHERE x.submission_no = v.submission_no) m
            CROSS JOIN LATERAL (
              SELECT s.submission_no AS sharer
                FROM idgraph.allocation_shares sh
                JOIN idgraph.submissions s ON s.submission_id = sh.submission_id AND s.status = 'pending'
               WHERE sh.target_id = m.target_id AND sh.external_id = m.ext
               ORDER BY sh.created_at, sh.submission_id
               LIMIT 1) n) h
   WHERE a.target_id = h.target_id AND a.id_key = h.id_key AND a.submission_no = v.submission_no;
  GET DIAGNOSTICS v_handed = ROW_COUNT;
  -- Integers are never freed: the rows stay, rolled back with their owner, reserved for
  -- the same external id.
  SELECT count(*) INTO v_n FROM idgraph.allocation_rows a WHERE a.submission_no = v.submission_no;
  UPDATE idgraph.submissions s SET status = 'rolled_back', rolled_back_at = now(), rollback_reason = p_reason
   WHERE s.submission_id = p_submission;
  PERFORM idgraph._audit('rollback', p_submission, NULL, NULL, NULL, NULL, v_n::integer, 0,
                         jsonb_build_object('reason', p_reason, 'handed_over', v_handed), t0);
  RETURN QUERY SELECT p_submission, 'rolled_back'::text, now(), v_n;
END
$$;
COMMENT ON FUNCTION idgraph.rollback_submission(uuid, text) IS
$$Rolls back a pending submission: its allocations become rolled_back with it (no row is rewritten); their integers stay reserved for the same external ids.
Example: SELECT * FROM idgraph.rollback_submission(sub, 'bad source file');$$;
CREATE OR REPLACE FUNCTION idgraph._resolve(p_rel regclass, p_column text, p_external_id text, p_external_id_type text)
RETURNS TABLE (alloc_integer_id bigint, status text, submission_id uuid, external_id text, external_id_type text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_t idgraph.targets := idgraph._target(p_rel, p_column);
  v_type text := coalesce(p_external_id_type, idgraph.guess_external_id_type(p_external_id));
  v_id text;
BEGIN
  IF p_external_id IS NULL THEN
    RAISE EXCEPTION 'external id must not be NULL' USING ERRCODE = '22004';
  END IF;
  v_id := idgraph.normalize_external_id(p_external_id, v_type);
  RETURN QUERY
    SELECT a.alloc_integer_id, idgraph._allocation_status(o.status), o.submission_id, v_id,
           idgraph._external_id_type(a.natural_key)
      FROM idgraph.allocation_rows a JOIN idgraph.submissions o ON o.submission_no = a.submission_no
     WHERE a.target_id = v_t.target_id AND a.id_key = idgraph.external_id_key(v_id)
       AND idgraph._external_id(a.natural_key, a.id_key) = v_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'external id % has no integer in %.%', quote_literal(left(p_external_id, 100)), p_rel, quote_ident(p_column)
      USING ERRCODE = 'P0002';
  END IF;
END
$$;
CREATE OR REPLACE FUNCTION idgraph._resolve_batch(p_rel regclass, p_column text, p_external_ids text[], p_external_id_type text)
RETURNS TABLE (ordinality bigint, external_id text, alloc_integer_id bigint, status text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_t idgraph.targets := idgraph._target(p_rel, p_column);
  v_cap integer := coalesce(nullif(current_setting('idgraph.max_batch_size', true), '')::integer, 10000);
BEGIN
  IF p_external_ids IS NULL THEN
    RAISE EXCEPTION 'external ids must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF cardinality(p_external_ids) > v_cap THEN
    RAISE EXCEPTION 'batch of % external ids exceeds the limit of %', cardinality(p_external_ids), v_cap USING ERRCODE = '54000';
  END IF;
  RETURN QUERY
    SELECT u.ord, u.raw, x.alloc_integer_id, x.status
      FROM unnest(p_external_ids) WITH ORDINALITY AS u(raw, ord)
      CROSS JOIN LATERAL (SELECT idgraph.normalize_external_id(u.raw,
                                   coalesce(p_external_id_type, idgraph.guess_external_id_type(u.raw))) AS id) n
      LEFT JOIN LATERAL (SELECT a.alloc_integer_id, idgraph._allocation_status(o.status) AS status
                           FROM idgraph.allocation_rows a JOIN idgraph.submissions o ON o.submission_no = a.submission_no
                          WHERE a.target_id = v_t.target_id AND a.id_key = idgraph.external_id_key(n.id)
                            AND idgraph._external_id(a.natural_key, a.id_key) = n.id) x ON true
     ORDER BY u.ord;
END
$$;
CREATE OR REPLACE FUNCTION idgraph._resolve_integer(p_rel regclass, p_column text, p_alloc_integer_id bigint)
RETURNS TABLE (external_id text, external_id_type text, status text, submission_id uuid)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_t idgraph.targets := idgraph._target(p_rel, p_column);
BEGIN
  IF p_alloc_integer_id IS NULL THEN
    RAISE EXCEPTION 'integer id must not be NULL' USING ERRCODE = '22004';
  END IF;
  RETURN QUERY
    SELECT idgraph._external_id(a.natural_key, a.id_key), idgraph._external_id_type(a.natural_key),
           idgraph._allocation_status(o.status), o.submission_id
      FROM idgraph.allocation_rows a JOIN idgraph.submissions o ON o.submission_no = a.submission_no
     WHERE a.target_id = v_t.target_id AND a.alloc_integer_id = p_alloc_integer_id;  -- allocation_rows_integer_brin
  IF NOT FOUND THEN
    RAISE EXCEPTION 'integer % was not allocated by idgraph in %.%', p_alloc_integer_id, p_rel, quote_ident(p_column)
      USING ERRCODE = 'P0002';
  END IF;
END
$$;
CREATE OR REPLACE FUNCTION idgraph._detect_change(p_rel regclass, p_column text, p_external_id text, p_content_hash text, p_external_id_type text)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_t idgraph.targets := idgraph._target(p_rel, p_column);
  v_status text;
  v_hash text;
  v_id text;
BEGIN
  IF p_external_id IS NULL THEN
    RAISE EXCEPTION 'external id must not be NULL' USING ERRCODE = '22004';
  END IF;
  v_id := idgraph.normalize_external_id(p_external_id,
                                        coalesce(p_external_id_type, idgraph.guess_external_id_type(p_external_id)));
  SELECT idgraph._allocation_status(o.status), a.content_hash INTO v_status, v_hash
    FROM idgraph.allocation_rows a JOIN idgraph.submissions o ON o.submission_no = a.submission_no
   WHERE a.target_id = v_t.target_id AND a.id_key = idgraph.external_id_key(v_id)
     AND idgraph._external_id(a.natural_key, a.id_key) = v_id;
  IF NOT FOUND OR v_status = 'rolled_back' THEN
    RETURN 'insert';
  ELSIF p_content_hash IS NOT NULL AND p_content_hash = v_hash THEN
    RETURN 'skip';
  ELSE
    RETURN 'update';
  END IF;
END
$$;
CREATE OR REPLACE FUNCTION idgraph.targets()
RETURNS TABLE (target_id integer, table_name regclass, column_name name, alloc_seq regclass,
               allocations bigint, registered_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.target_id, t.table_oid, t.column_name, t.alloc_seq,
         (SELECT count(*) FROM idgraph.allocation_rows a WHERE a.target_id = t.target_id),
         t.registered_at
    FROM idgraph.targets t ORDER BY t.target_id
$$;
COMMENT ON FUNCTION idgraph.targets() IS
  'Lists registered targets with their allocation counts. Example: SELECT * FROM idgraph.targets();';
