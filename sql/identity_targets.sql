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

--
-- The identity functions, one file per concern (loaded in this order, pg_ext/src/lib.rs):
--   identity_audit.sql        who acted, audit rows, seal_audit / verify_audit
--   identity_targets.sql      table names, targets: register_target, targets()
--   identity_submissions.sql  submissions: create, commit, rollback, named, expiry
--   identity_allocation.sql   allocate, allocate_batch (the hot path)
--   identity_resolution.sql   resolve, resolve_batch, resolve_integer, detect_change

-- ---------------------------------------------------------------------------
-- Internal helpers: table names and targets
-- ---------------------------------------------------------------------------

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
         (SELECT count(*) FROM idgraph.allocation_rows a WHERE a.target_id = t.target_id),
         t.registered_at
    FROM idgraph.targets t ORDER BY t.target_id
$$;
COMMENT ON FUNCTION idgraph.targets() IS
  'Lists registered targets with their allocation counts. Example: SELECT * FROM idgraph.targets();';
