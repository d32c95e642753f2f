-- idgraph: identity allocation (SPEC §1).
--
-- Layering: the public functions are SECURITY INVOKER so that a table name the caller
-- passes unqualified ('tbl_sites') resolves through the caller's own search_path, exactly
-- as Postgres resolves it. They hand the resolved regclass to SECURITY DEFINER functions
-- (prefixed _) with a pinned search_path, which are the only code that writes idgraph's
-- tables: the audit cannot be bypassed.
--
-- SQLSTATEs raised here (the facade maps them to HTTP statuses):
--   22004 null_value_not_allowed     a required argument is NULL
--   22023 invalid_parameter_value    malformed external id, bad type, bad column
--   42602 invalid_name               a table name that is not a name (e.g. an injection attempt)
--   42704 undefined_object           target not registered
--   P0002 no_data_found              unknown submission / external id / integer
--   23505 unique_violation           submission name already used
--   55000 object_not_in_prerequisite_state  submission committed or rolled back
--   54000 program_limit_exceeded     batch larger than idgraph.max_batch_size
--   42501 insufficient_privilege     audit tables touched directly

-- ---------------------------------------------------------------------------
-- Internal helpers
-- ---------------------------------------------------------------------------

-- Who is acting: the principal the facade authenticated, set through
-- idgraph.set_principal (executable by the facade's role only, kept in backend memory
-- where no SET reaches it), else the session user. Never a GUC: any role can SET one.
-- No SET clause, so that it is inlined; everything in it is schema-qualified.
CREATE FUNCTION idgraph._actor() RETURNS text
LANGUAGE sql STABLE PARALLEL RESTRICTED
AS $$ SELECT coalesce(idgraph._principal(), session_user::text) $$;

CREATE FUNCTION idgraph._audit(
    p_action text, p_submission uuid, p_target integer, p_external_id text,
    p_alloc bigint, p_is_new boolean, p_total integer, p_new integer,
    p_detail jsonb, p_started timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
-- Called only by SECURITY DEFINER functions, whose pinned search_path it runs under.
AS $$
BEGIN
  INSERT INTO idgraph.audit_log (actor, action, submission_id, target_id, external_id,
                                 alloc_integer_id, is_new, n_total, n_new, detail, duration_us, sysid)
  VALUES (idgraph._actor(), p_action, p_submission, p_target, p_external_id, p_alloc, p_is_new,
          p_total, p_new, p_detail,
          (extract(epoch FROM clock_timestamp() - p_started) * 1000000)::bigint,
          idgraph._system_identifier());
END
$$;

-- Resolves a table name the way Postgres resolves it for the caller (invoker rights,
-- caller's search_path). Refuses anything that is not a (possibly qualified) name.
CREATE FUNCTION idgraph._resolve_table(p_table text) RETURNS regclass
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  v_rel regclass;
BEGIN
  IF p_table IS NULL THEN
    RAISE EXCEPTION 'table name must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF p_table !~ '^\s*("([^"]|"")+"|[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*)(\s*\.\s*("([^"]|"")+"|[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*))?\s*$' THEN
    RAISE EXCEPTION 'table name % is not a valid table name', quote_literal(left(p_table, 100))
      USING ERRCODE = '42602',
            HINT = 'Pass a table name such as ''tbl_sites'' or ''public.tbl_sites''.';
  END IF;
  v_rel := pg_catalog.to_regclass(p_table);
  IF v_rel IS NULL THEN
    RAISE EXCEPTION 'table % does not exist (or is not visible on your search_path)', p_table
      USING ERRCODE = '42704',
            HINT = 'Use a schema-qualified name, or register the target first with idgraph.register_target.';
  END IF;
  RETURN v_rel;
END
$$;

-- The registered target for (table, column), or 42704.
CREATE FUNCTION idgraph._target(p_rel regclass, p_column text) RETURNS idgraph.targets
LANGUAGE plpgsql STABLE
-- Called only by SECURITY DEFINER functions, whose pinned search_path it runs under.
AS $$
DECLARE
  v idgraph.targets;
BEGIN
  IF p_column IS NULL THEN
    RAISE EXCEPTION 'column name must not be NULL' USING ERRCODE = '22004';
  END IF;
  SELECT * INTO v FROM idgraph.targets t WHERE t.table_oid = p_rel AND t.column_name = p_column;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'target %.% is not registered for allocation', p_rel, quote_ident(p_column)
      USING ERRCODE = '42704',
            HINT = 'An idgraph_admin registers targets with idgraph.register_target(table, column).';
  END IF;
  RETURN v;
END
$$;

-- Locks a submission against commit/rollback for the rest of the transaction and checks
-- it still accepts allocations. FOR KEY SHARE lets concurrent allocations into the same
-- submission proceed together; commit/rollback take FOR UPDATE and so wait for them.
CREATE FUNCTION idgraph._open_submission(p_submission uuid) RETURNS void
LANGUAGE plpgsql VOLATILE
-- Called only by SECURITY DEFINER functions, whose pinned search_path it runs under.
AS $$
DECLARE
  v_status text;
BEGIN
  IF p_submission IS NULL THEN
    RAISE EXCEPTION 'submission must not be NULL' USING ERRCODE = '22004';
  END IF;
  SELECT s.status INTO v_status FROM idgraph.submissions s
   WHERE s.submission_id = p_submission FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'submission % does not exist', p_submission
      USING ERRCODE = 'P0002', HINT = 'Create one with idgraph.create_submission(name, source_system, data_type).';
  END IF;
  IF v_status <> 'pending' THEN
    RAISE EXCEPTION 'submission % is %, it accepts no more allocations', p_submission, v_status
      USING ERRCODE = '55000', HINT = 'Create a new submission.';
  END IF;
END
$$;

-- ---------------------------------------------------------------------------
-- Targets
-- ---------------------------------------------------------------------------

CREATE FUNCTION idgraph.register_target(p_table regclass, p_column name)
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

CREATE FUNCTION idgraph.targets()
RETURNS TABLE (target_id integer, table_name regclass, column_name name, alloc_seq regclass,
               allocations bigint, registered_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.target_id, t.table_oid, t.column_name, t.alloc_seq,
         (SELECT count(*) FROM idgraph.allocations a WHERE a.target_id = t.target_id),
         t.registered_at
    FROM idgraph.targets t ORDER BY t.target_id
$$;
COMMENT ON FUNCTION idgraph.targets() IS
  'Lists registered targets with their allocation counts. Example: SELECT * FROM idgraph.targets();';

-- ---------------------------------------------------------------------------
-- Submissions
-- ---------------------------------------------------------------------------

CREATE FUNCTION idgraph.create_submission(
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

CREATE FUNCTION idgraph.submission(p_submission uuid)
RETURNS TABLE (submission_id uuid, submission_name text, source_system text, data_type text, status text,
               notes text, created_at timestamptz, created_by text, created_by_team text,
               committed_at timestamptz, change_request_id text, rolled_back_at timestamptz,
               rollback_reason text, total_allocations bigint, new_allocations bigint, existing_allocations bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_submission IS NULL THEN
    RAISE EXCEPTION 'submission must not be NULL' USING ERRCODE = '22004';
  END IF;
  RETURN QUERY
    SELECT s.submission_id, s.submission_name, s.source_system, s.data_type, s.status, s.notes,
           s.created_at, s.created_by, s.created_by_team, s.committed_at, s.change_request_id,
           s.rolled_back_at, s.rollback_reason,
           coalesce(st.total, 0), coalesce(st.new, 0), coalesce(st.total - st.new, 0)
      FROM idgraph.submissions s
      LEFT JOIN LATERAL (
        SELECT sum(a.n_total)::bigint AS total, sum(a.n_new)::bigint AS new
          FROM idgraph.audit_log a
         WHERE a.submission_id = s.submission_id AND a.action IN ('allocate', 'allocate_batch')
      ) st ON true
     WHERE s.submission_id = p_submission;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'submission % does not exist', p_submission USING ERRCODE = 'P0002';
  END IF;
END
$$;
COMMENT ON FUNCTION idgraph.submission(uuid) IS
  'Status and statistics (total/new/existing allocations) of a submission. Example: SELECT * FROM idgraph.submission(''…''::uuid);';

-- ---------------------------------------------------------------------------
-- Allocation
-- ---------------------------------------------------------------------------

-- The hot path. Everything is inline (no nested helper calls, no nested SET frames):
-- measured, each helper call cost as much as an index probe.
CREATE FUNCTION idgraph._allocate(
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
  v_owner uuid;
  v_new boolean := false;
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
  -- FOR KEY SHARE: concurrent allocations into one submission go together; commit and
  -- rollback (FOR UPDATE) wait for them, so nothing slips into a closed submission.
  SELECT s.status INTO v_status FROM idgraph.submissions s WHERE s.submission_id = p_submission FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'submission % does not exist', p_submission
      USING ERRCODE = 'P0002', HINT = 'Create one with idgraph.create_submission(name, source_system, data_type).';
  ELSIF v_status <> 'pending' THEN
    RAISE EXCEPTION 'submission % is %, it accepts no more allocations', p_submission, v_status
      USING ERRCODE = '55000', HINT = 'Create a new submission.';
  END IF;

  SELECT a.alloc_integer_id, a.status, a.content_hash, a.submission_id INTO v_alloc, v_status, v_hash, v_owner
    FROM idgraph.allocations a WHERE a.target_id = v_target AND a.external_id = v_id;
  IF FOUND THEN
    IF v_status = 'allocated' AND v_owner <> p_submission THEN
      -- Still pending in another submission: this one shares it (see allocation_shares).
      INSERT INTO idgraph.allocation_shares (target_id, external_id, submission_id)
      VALUES (v_target, v_id, p_submission) ON CONFLICT DO NOTHING;
    END IF;
    IF v_status = 'rolled_back' THEN
      -- It comes back: same integer, now owned by this submission.
      UPDATE idgraph.allocations a
         SET status = 'allocated', submission_id = p_submission, committed_at = NULL,
             content_hash = coalesce(p_content_hash, a.content_hash)
       WHERE a.target_id = v_target AND a.external_id = v_id AND a.status = 'rolled_back';
      v_new := FOUND;
    ELSIF p_content_hash IS NOT NULL AND p_content_hash IS DISTINCT FROM v_hash THEN
      UPDATE idgraph.allocations a SET content_hash = p_content_hash
       WHERE a.target_id = v_target AND a.external_id = v_id;
    END IF;
  ELSE
    INSERT INTO idgraph.allocations AS a (target_id, external_id, alloc_integer_id, external_id_type, submission_id,
                                          content_hash, external_system_id, external_data, created_by)
    VALUES (v_target, v_id, nextval(v_seq), p_external_id_type, p_submission,
            p_content_hash, p_external_system_id, p_external_data, v_actor)
    ON CONFLICT ON CONSTRAINT allocations_pkey DO NOTHING
    RETURNING a.alloc_integer_id INTO v_alloc;
    IF FOUND THEN
      v_new := true;
    ELSE
      -- Another session allocated it first and has committed (ON CONFLICT waited for it).
      SELECT a.alloc_integer_id, a.status, a.submission_id INTO v_alloc, v_status, v_owner
        FROM idgraph.allocations a WHERE a.target_id = v_target AND a.external_id = v_id;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'could not serialize allocation of % (allocated concurrently)', v_id
          USING ERRCODE = '40001', HINT = 'Retry the transaction.';
      END IF;
      IF v_status = 'allocated' AND v_owner <> p_submission THEN
        INSERT INTO idgraph.allocation_shares (target_id, external_id, submission_id)
        VALUES (v_target, v_id, p_submission) ON CONFLICT DO NOTHING;
      END IF;
    END IF;
  END IF;

  INSERT INTO idgraph.audit_log (actor, action, submission_id, target_id, external_id, alloc_integer_id,
                                 is_new, n_total, n_new, duration_us, sysid)
  VALUES (v_actor, 'allocate', p_submission, v_target, v_id, v_alloc, v_new, 1, v_new::integer,
          (extract(epoch FROM clock_timestamp() - t0) * 1000000)::bigint, idgraph._system_identifier());
  alloc_integer_id := v_alloc;
  is_new := v_new;
  RETURN NEXT;
END
$$;
COMMENT ON FUNCTION idgraph._allocate(uuid, regclass, text, text, text, text, text, jsonb) IS
  'Internal: allocate one id for a resolved target (called by idgraph.allocate and the sead_utility layer).';

-- plpgsql, not sql: a LANGUAGE sql set-returning VOLATILE function is parsed and planned
-- on every call, a plpgsql one caches its plan.
CREATE FUNCTION idgraph.allocate(
    p_submission uuid, p_table text, p_column text, p_external_id text,
    p_external_id_type text DEFAULT 'uuid', p_content_hash text DEFAULT NULL)
RETURNS TABLE (alloc_integer_id bigint, is_new boolean)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  RETURN QUERY SELECT * FROM idgraph._allocate(p_submission, idgraph._resolve_table(p_table), p_column,
                                               p_external_id, p_external_id_type, p_content_hash, NULL, NULL);
END
$$;
COMMENT ON FUNCTION idgraph.allocate(uuid, text, text, text, text, text) IS
$$Allocates (or returns) the stable integer for an external id. Idempotent across calls and submissions.
Example: SELECT * FROM idgraph.allocate(sub, 'tbl_sites', 'site_id', 'a3e4f567-e89b-12d3-a456-426614174001');$$;

CREATE FUNCTION idgraph._allocate_batch(
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
  v_missing text[];
  v_shared text[];    -- ids still pending in another submission: this one shares them
  v_count_new integer;
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
  PERFORM idgraph._open_submission(p_submission);

  -- Rolled-back ids come back under a row lock. Take those locks first, in external-id
  -- order, so that concurrent batches reviving overlapping ids cannot deadlock (the
  -- UPDATE below would lock them in whatever order its join produces).
  PERFORM 1 FROM idgraph.allocations a
   WHERE a.target_id = v_t.target_id AND a.external_id = ANY (v_norm) AND a.status = 'rolled_back'
   ORDER BY a.external_id
     FOR NO KEY UPDATE;  -- the UPDATE's own lock strength; FOR UPDATE would block FK checks of allocation_shares

  -- One statement: look up what exists (one index probe per distinct id), bring
  -- rolled-back ids back, insert the missing ones in external-id order (so concurrent
  -- batches over overlapping ids take index locks in the same order and cannot
  -- deadlock), and collect every distinct id's integer from the lookup or the RETURNING.
  WITH input AS (
    SELECT u.ext, min(u.ord) AS ord FROM unnest(v_norm) WITH ORDINALITY AS u(ext, ord) GROUP BY u.ext
  ), probe AS (
    SELECT i.ext, i.ord, p_content_hashes[i.ord] AS hash, x.alloc_integer_id, x.status, x.submission_id AS owner
      FROM input i
      LEFT JOIN LATERAL (SELECT a.alloc_integer_id, a.status, a.submission_id FROM idgraph.allocations a
                          WHERE a.target_id = v_t.target_id AND a.external_id = i.ext LIMIT 1) x ON true
  ), revived AS (
    UPDATE idgraph.allocations a
       SET status = 'allocated', submission_id = p_submission, committed_at = NULL,
           content_hash = coalesce(p.hash, a.content_hash)
      FROM probe p
     WHERE p.status = 'rolled_back' AND a.target_id = v_t.target_id AND a.external_id = p.ext
       AND a.status = 'rolled_back'
    RETURNING a.external_id
  ), inserted AS (
    INSERT INTO idgraph.allocations AS a (target_id, external_id, alloc_integer_id, external_id_type,
                                          submission_id, content_hash, created_by)
    SELECT v_t.target_id, m.ext, nextval(v_t.alloc_seq), p_external_id_type, p_submission, m.hash, v_actor
      FROM (SELECT p.ext, p.hash FROM probe p WHERE p.alloc_integer_id IS NULL ORDER BY p.ext) m
    ON CONFLICT ON CONSTRAINT allocations_pkey DO NOTHING
    RETURNING a.external_id, a.alloc_integer_id
  )
  SELECT array_agg(p.ext ORDER BY p.ext),
         array_agg(coalesce(p.alloc_integer_id, n.alloc_integer_id) ORDER BY p.ext),
         array_agg(n.external_id IS NOT NULL OR r.external_id IS NOT NULL ORDER BY p.ext),
         array_agg(p.ext) FILTER (WHERE p.status = 'allocated' AND p.owner <> p_submission)
    INTO v_exts, v_ids, v_new, v_shared
    FROM probe p
    LEFT JOIN inserted n ON n.external_id = p.ext
    LEFT JOIN revived r ON r.external_id = p.ext;

  -- Ids a concurrent batch inserted while we waited on it (ON CONFLICT skipped them): a
  -- fresh statement (fresh snapshot under READ COMMITTED) sees them now.
  SELECT array_agg(e.ext) INTO v_missing
    FROM unnest(v_exts, v_ids) AS e(ext, id) WHERE e.id IS NULL;
  IF v_missing IS NOT NULL THEN
    SELECT array_agg(coalesce(f.alloc_integer_id, e.id) ORDER BY e.ord) INTO v_ids
      FROM unnest(v_exts, v_ids) WITH ORDINALITY AS e(ext, id, ord)
      LEFT JOIN idgraph.allocations f
        ON e.id IS NULL AND f.target_id = v_t.target_id AND f.external_id = e.ext;
    IF array_position(v_ids, NULL) IS NOT NULL THEN
      RAISE EXCEPTION 'could not serialize a batch allocation (ids allocated concurrently)'
        USING ERRCODE = '40001', HINT = 'Retry the transaction (use READ COMMITTED for batch allocation).';
    END IF;
    v_shared := coalesce(v_shared, '{}') || ARRAY(
      SELECT f.external_id FROM idgraph.allocations f
       WHERE f.target_id = v_t.target_id AND f.external_id = ANY (v_missing)
         AND f.status = 'allocated' AND f.submission_id <> p_submission);
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
    SELECT u.ord, u.ext, d.id, d.is_new AND u.ord = min(u.ord) OVER (PARTITION BY u.ext)
      FROM unnest(v_norm) WITH ORDINALITY AS u(ext, ord)
      JOIN unnest(v_exts, v_ids, v_new) AS d(ext, id, is_new) ON d.ext = u.ext
     ORDER BY u.ord;
END
$$;
COMMENT ON FUNCTION idgraph._allocate_batch(uuid, regclass, text, text[], text, text[]) IS
  'Internal: set-based batch allocation for a resolved target (called by idgraph.allocate_batch and sead_utility).';

CREATE FUNCTION idgraph.allocate_batch(
    p_submission uuid, p_table text, p_column text, p_external_ids text[],
    p_external_id_type text DEFAULT 'uuid', p_content_hashes text[] DEFAULT NULL)
RETURNS TABLE (ordinality bigint, external_id text, alloc_integer_id bigint, is_new boolean)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  RETURN QUERY SELECT * FROM idgraph._allocate_batch(p_submission, idgraph._resolve_table(p_table), p_column,
                                                     p_external_ids, p_external_id_type, p_content_hashes);
END
$$;
COMMENT ON FUNCTION idgraph.allocate_batch(uuid, text, text, text[], text, text[]) IS
$$Allocates up to idgraph.max_batch_size ids in one atomic, set-based call; rows come back in input order, duplicates share one integer (is_new only on the first).
Example: SELECT * FROM idgraph.allocate_batch(sub, 'tbl_sites', 'site_id', ARRAY['…','…']);$$;

-- ---------------------------------------------------------------------------
-- Resolution
-- ---------------------------------------------------------------------------

CREATE FUNCTION idgraph._resolve(p_rel regclass, p_column text, p_external_id text, p_external_id_type text)
RETURNS TABLE (alloc_integer_id bigint, status text, submission_id uuid, external_id text, external_id_type text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_t idgraph.targets := idgraph._target(p_rel, p_column);
  v_type text := coalesce(p_external_id_type, idgraph.guess_external_id_type(p_external_id));
BEGIN
  IF p_external_id IS NULL THEN
    RAISE EXCEPTION 'external id must not be NULL' USING ERRCODE = '22004';
  END IF;
  RETURN QUERY
    SELECT a.alloc_integer_id, a.status, a.submission_id, a.external_id, a.external_id_type
      FROM idgraph.allocations a
     WHERE a.target_id = v_t.target_id
       AND a.external_id = idgraph.normalize_external_id(p_external_id, v_type);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'external id % has no integer in %.%', quote_literal(left(p_external_id, 100)), p_rel, quote_ident(p_column)
      USING ERRCODE = 'P0002';
  END IF;
END
$$;

CREATE FUNCTION idgraph.resolve(p_table text, p_column text, p_external_id text, p_external_id_type text DEFAULT NULL)
RETURNS TABLE (alloc_integer_id bigint, status text, submission_id uuid, external_id text, external_id_type text)
LANGUAGE sql STABLE
AS $$ SELECT * FROM idgraph._resolve(idgraph._resolve_table(p_table), p_column, p_external_id, p_external_id_type) $$;
COMMENT ON FUNCTION idgraph.resolve(text, text, text, text) IS
$$External id -> integer and status; P0002 when it has none. The type is guessed when not given.
Example: SELECT * FROM idgraph.resolve('tbl_sites', 'site_id', 'a3e4f567-e89b-12d3-a456-426614174001');$$;

CREATE FUNCTION idgraph._resolve_batch(p_rel regclass, p_column text, p_external_ids text[], p_external_id_type text)
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
    SELECT u.ord, u.raw, a.alloc_integer_id, a.status
      FROM unnest(p_external_ids) WITH ORDINALITY AS u(raw, ord)
      LEFT JOIN idgraph.allocations a
        ON a.target_id = v_t.target_id
       AND a.external_id = idgraph.normalize_external_id(u.raw,
                             coalesce(p_external_id_type, idgraph.guess_external_id_type(u.raw)))
     ORDER BY u.ord;
END
$$;

CREATE FUNCTION idgraph.resolve_batch(p_table text, p_column text, p_external_ids text[], p_external_id_type text DEFAULT NULL)
RETURNS TABLE (ordinality bigint, external_id text, alloc_integer_id bigint, status text)
LANGUAGE sql STABLE
AS $$ SELECT * FROM idgraph._resolve_batch(idgraph._resolve_table(p_table), p_column, p_external_ids, p_external_id_type) $$;
COMMENT ON FUNCTION idgraph.resolve_batch(text, text, text[], text) IS
$$Resolves many external ids at once, in input order; unknown ids come back with NULL integer and status.
Example: SELECT * FROM idgraph.resolve_batch('tbl_sites', 'site_id', ARRAY['…','…']);$$;

CREATE FUNCTION idgraph._resolve_integer(p_rel regclass, p_column text, p_alloc_integer_id bigint)
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
    SELECT a.external_id, a.external_id_type, a.status, a.submission_id
      FROM idgraph.allocations a
     WHERE a.target_id = v_t.target_id AND a.alloc_integer_id = p_alloc_integer_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'integer % was not allocated by idgraph in %.%', p_alloc_integer_id, p_rel, quote_ident(p_column)
      USING ERRCODE = 'P0002';
  END IF;
END
$$;

CREATE FUNCTION idgraph.resolve_integer(p_table text, p_column text, p_alloc_integer_id bigint)
RETURNS TABLE (external_id text, external_id_type text, status text, submission_id uuid)
LANGUAGE sql STABLE
AS $$ SELECT * FROM idgraph._resolve_integer(idgraph._resolve_table(p_table), p_column, p_alloc_integer_id) $$;
COMMENT ON FUNCTION idgraph.resolve_integer(text, text, bigint) IS
$$Reverse lookup: integer -> external id; P0002 when idgraph did not allocate it.
Example: SELECT * FROM idgraph.resolve_integer('tbl_sites', 'site_id', 1001);$$;

-- ---------------------------------------------------------------------------
-- Change detection
-- ---------------------------------------------------------------------------

CREATE FUNCTION idgraph._detect_change(p_rel regclass, p_column text, p_external_id text, p_content_hash text, p_external_id_type text)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_t idgraph.targets := idgraph._target(p_rel, p_column);
  v_status text;
  v_hash text;
BEGIN
  IF p_external_id IS NULL THEN
    RAISE EXCEPTION 'external id must not be NULL' USING ERRCODE = '22004';
  END IF;
  SELECT a.status, a.content_hash INTO v_status, v_hash
    FROM idgraph.allocations a
   WHERE a.target_id = v_t.target_id
     AND a.external_id = idgraph.normalize_external_id(p_external_id,
                           coalesce(p_external_id_type, idgraph.guess_external_id_type(p_external_id)));
  IF NOT FOUND OR v_status = 'rolled_back' THEN
    RETURN 'insert';
  ELSIF p_content_hash IS NOT NULL AND p_content_hash = v_hash THEN
    RETURN 'skip';
  ELSE
    RETURN 'update';
  END IF;
END
$$;

CREATE FUNCTION idgraph.detect_change(p_table text, p_column text, p_external_id text, p_content_hash text,
                                      p_external_id_type text DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT idgraph._detect_change(idgraph._resolve_table(p_table), p_column, p_external_id, p_content_hash, p_external_id_type) $$;
COMMENT ON FUNCTION idgraph.detect_change(text, text, text, text, text) IS
$$'insert' (never allocated, or rolled back), 'update' (content hash differs or unknown) or 'skip' (same hash).
Example: SELECT idgraph.detect_change('tbl_sites', 'site_id', '…', 'sha256-hex');$$;

-- ---------------------------------------------------------------------------
-- Commit / rollback
-- ---------------------------------------------------------------------------

CREATE FUNCTION idgraph._close_submission(p_submission uuid, p_to text) RETURNS idgraph.submissions
LANGUAGE plpgsql VOLATILE
-- Called only by SECURITY DEFINER functions, whose pinned search_path it runs under.
AS $$
DECLARE
  v idgraph.submissions;
BEGIN
  IF p_submission IS NULL THEN
    RAISE EXCEPTION 'submission must not be NULL' USING ERRCODE = '22004';
  END IF;
  -- FOR UPDATE waits for allocations in flight (they hold FOR KEY SHARE).
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

CREATE FUNCTION idgraph.commit_submission(p_submission uuid, p_change_request_id text DEFAULT NULL)
RETURNS TABLE (submission_id uuid, status text, committed_at timestamptz, allocations_committed bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  v_n bigint;
  v_shared bigint;
BEGIN
  PERFORM idgraph._close_submission(p_submission, 'committed');
  UPDATE idgraph.allocations a SET status = 'committed', committed_at = now()
   WHERE a.submission_id = p_submission AND a.status = 'allocated';
  GET DIAGNOSTICS v_n = ROW_COUNT;
  -- Ids this submission used while another pending submission owned them are committed
  -- too (its data refers to them); one rolled back meanwhile comes back, owned by us.
  UPDATE idgraph.allocations a
     SET status = 'committed', committed_at = now(),
         submission_id = CASE WHEN a.status = 'rolled_back' THEN p_submission ELSE a.submission_id END
    FROM idgraph.allocation_shares sh
   WHERE sh.submission_id = p_submission AND a.target_id = sh.target_id AND a.external_id = sh.external_id
     AND a.status IN ('allocated', 'rolled_back');
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
$$Commits a pending submission: its allocations become committed. 55000 when already committed or rolled back.
Example: SELECT * FROM idgraph.commit_submission(sub, 'CR-42');$$;

CREATE FUNCTION idgraph.rollback_submission(p_submission uuid, p_reason text DEFAULT NULL)
RETURNS TABLE (submission_id uuid, status text, rolled_back_at timestamptz, allocations_affected bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  v_n bigint;
  v_handed bigint;
BEGIN
  PERFORM idgraph._close_submission(p_submission, 'rolled_back');
  -- An id another pending submission also used is handed over to it (the earliest), not
  -- rolled back: that submission's data refers to the integer.
  UPDATE idgraph.allocations a SET submission_id = h.sharer
    FROM (SELECT DISTINCT ON (sh.target_id, sh.external_id) sh.target_id, sh.external_id, sh.submission_id AS sharer
            FROM idgraph.allocations x
            JOIN idgraph.allocation_shares sh ON sh.target_id = x.target_id AND sh.external_id = x.external_id
            JOIN idgraph.submissions s ON s.submission_id = sh.submission_id AND s.status = 'pending'
           WHERE x.submission_id = p_submission AND x.status = 'allocated'
           ORDER BY sh.target_id, sh.external_id, sh.created_at, sh.submission_id) h
   WHERE a.target_id = h.target_id AND a.external_id = h.external_id
     AND a.submission_id = p_submission AND a.status = 'allocated';
  GET DIAGNOSTICS v_handed = ROW_COUNT;
  -- Integers are never freed: the rows stay, marked rolled_back, reserved for the same external id.
  UPDATE idgraph.allocations a SET status = 'rolled_back'
   WHERE a.submission_id = p_submission AND a.status = 'allocated';
  GET DIAGNOSTICS v_n = ROW_COUNT;
  UPDATE idgraph.submissions s SET status = 'rolled_back', rolled_back_at = now(), rollback_reason = p_reason
   WHERE s.submission_id = p_submission;
  PERFORM idgraph._audit('rollback', p_submission, NULL, NULL, NULL, NULL, v_n::integer, 0,
                         jsonb_build_object('reason', p_reason, 'handed_over', v_handed), t0);
  RETURN QUERY SELECT p_submission, 'rolled_back'::text, now(), v_n;
END
$$;
COMMENT ON FUNCTION idgraph.rollback_submission(uuid, text) IS
$$Rolls back a pending submission: its new allocations become rolled_back; their integers stay reserved for the same external ids.
Example: SELECT * FROM idgraph.rollback_submission(sub, 'bad source file');$$;

-- ---------------------------------------------------------------------------
-- Audit verification
-- ---------------------------------------------------------------------------

CREATE FUNCTION idgraph.seal_audit() RETURNS bigint
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

CREATE FUNCTION idgraph.audit_problems()
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

CREATE FUNCTION idgraph.verify_audit() RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT NOT EXISTS (SELECT 1 FROM idgraph.audit_problems()) $$;
COMMENT ON FUNCTION idgraph.verify_audit() IS
  'True when the audit trail is intact (no changed, removed or inserted rows). Example: SELECT idgraph.verify_audit();';

-- The seals, published: an auditor copies each digest somewhere the database's owner
-- cannot rewrite (docs/AUDIT.md). verify_audit() recomputes the chain inside the
-- database, which a superuser who rewrote rows and seals alike could make agree; an
-- anchored digest cannot be made to.
CREATE FUNCTION idgraph.audit_seal_digests(p_after_seal_id bigint DEFAULT 0, p_limit integer DEFAULT 1000)
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

-- ---------------------------------------------------------------------------
-- Submissions named by the caller (the sead_utility layer passes uuid and name)
-- ---------------------------------------------------------------------------

CREATE FUNCTION idgraph.ensure_submission(p_submission uuid, p_name text,
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

-- ---------------------------------------------------------------------------
-- Submissions named by an identifier (issue 9: SEAD's Shape Shifter passes a text
-- submission identifier, not a uuid, one call per row)
-- ---------------------------------------------------------------------------

-- The uuid a submission named by an identifier gets when it is created on first use:
-- the identifier itself when it is a uuid, else a name-based uuid (RFC 9562 version 8:
-- the first 16 bytes of sha256('idgraph.submission:' || identifier), version and variant
-- bits set). Deterministic, so that sessions creating the same submission at once agree
-- on its row (ensure_submission settles the race), and a pipeline can compute it.
CREATE FUNCTION idgraph.named_submission_uuid(p_identifier text) RETURNS uuid
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

CREATE FUNCTION idgraph.ensure_named_submission(p_identifier text, p_change_request_id text DEFAULT NULL,
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

-- ---------------------------------------------------------------------------
-- Submission expiry (seed 000 §5: orphaned submissions). Settings, reloadable:
--   idgraph.submission_expiry_age      pending submissions older than this are expired
--                                      (seconds or an interval; default 7 days)
--   idgraph.submission_expiry_enabled  on: the background worker rolls them back with
--                                      reason 'expired' (default off)
-- ---------------------------------------------------------------------------

-- No SET clause, so that it is cheap to call; everything is qualified.
CREATE FUNCTION idgraph._submission_expiry_age() RETURNS interval
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

CREATE FUNCTION idgraph.expired_submissions(p_older_than interval DEFAULT NULL)
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
           (SELECT count(*) FROM idgraph.allocations a WHERE a.submission_id = s.submission_id AND a.status = 'allocated')
      FROM idgraph.submissions s
     WHERE s.status = 'pending' AND s.created_at < now() - v_age
     ORDER BY s.created_at, s.submission_id;
END
$$;
COMMENT ON FUNCTION idgraph.expired_submissions(interval) IS
$$Pending submissions created longer ago than p_older_than (NULL: the setting idgraph.submission_expiry_age, default 7 days), oldest first, with their allocations still pending. Admin only.
Example: SELECT * FROM idgraph.expired_submissions(interval '2 days');$$;

CREATE FUNCTION idgraph.expire_submissions(p_older_than interval DEFAULT NULL, p_limit integer DEFAULT 1000)
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

CREATE FUNCTION idgraph.submission_expiry_status()
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
