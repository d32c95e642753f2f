-- sead_utility: the calls SEAD's pipelines already make, argument for argument, as thin
-- wrappers over idgraph (reference/SEAD_IDENTITY_IMPLEMENTATION_NOTES.md). Deployed by
-- the sqitch change compat_sead_utility. Integers come back as integer, as SEAD's do;
-- one past 2^31-1 is an error (22003), never a wrapped value. The wrappers are not
-- SECURITY DEFINER and do not pin search_path: table names such as 'tbl_sites' resolve
-- on the caller's search_path, as SEAD's pipelines expect; every name inside is qualified.
CREATE SCHEMA IF NOT EXISTS sead_utility;

CREATE OR REPLACE FUNCTION sead_utility._int(p_id bigint) RETURNS integer
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_id > 2147483647 THEN
    RAISE EXCEPTION 'allocated id % does not fit SEAD''s integer columns', p_id
      USING ERRCODE = '22003', HINT = 'Use idgraph.allocate, which returns bigint.';
  END IF;
  RETURN p_id::integer;
END
$$;
COMMENT ON FUNCTION sead_utility._int(bigint) IS 'bigint -> integer, 22003 past 2^31-1 (internal).';

CREATE OR REPLACE FUNCTION sead_utility.allocate_identity(
    p_submission_uuid uuid, p_submission_name text, p_table_name text, p_column_name text,
    p_external_id text, p_external_id_type text DEFAULT 'uuid', p_content_hash text DEFAULT NULL,
    p_external_system_id text DEFAULT NULL, p_external_data jsonb DEFAULT NULL)
RETURNS integer
LANGUAGE sql VOLATILE
AS $$
  SELECT sead_utility._int(a.alloc_integer_id)
    FROM idgraph.ensure_submission(p_submission_uuid, p_submission_name, 'sead_utility', p_table_name) s,
         idgraph._allocate(s, idgraph._resolve_table(p_table_name), p_column_name, p_external_id,
                           p_external_id_type, p_content_hash, p_external_system_id, p_external_data) a
$$;
COMMENT ON FUNCTION sead_utility.allocate_identity(uuid, text, text, text, text, text, text, text, jsonb) IS
  'SEAD compatibility: idgraph.allocate, creating the submission on first use. Example: SELECT sead_utility.allocate_identity(sub, ''sites-1'', ''tbl_sites'', ''site_id'', ''…'');';

CREATE OR REPLACE FUNCTION sead_utility.allocate_identity_batch(
    p_submission_uuid uuid, p_submission_name text, p_table_name text, p_column_name text, p_allocations jsonb)
RETURNS TABLE (external_id text, alloc_integer_id integer, is_new_allocation boolean)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v_rel regclass := idgraph._resolve_table(p_table_name);
  v_bad text;
  v_types text[];
BEGIN
  IF p_allocations IS NULL OR jsonb_typeof(p_allocations) <> 'array' THEN
    RAISE EXCEPTION 'p_allocations must be a JSON array of {external_id, external_id_type, content_hash, external_data}'
      USING ERRCODE = '22023';
  END IF;
  SELECT format('p_allocations[%s]', e.ord - 1) INTO v_bad
    FROM jsonb_array_elements(p_allocations) WITH ORDINALITY AS e(v, ord)
   WHERE jsonb_typeof(e.v) <> 'object' OR jsonb_typeof(e.v -> 'external_id') IS DISTINCT FROM 'string'
      OR (e.v ? 'external_id_type' AND jsonb_typeof(e.v -> 'external_id_type') <> 'string')
   ORDER BY e.ord LIMIT 1;
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION '%: each element needs a string external_id (and a string external_id_type, if any)', v_bad
      USING ERRCODE = '22023';
  END IF;
  PERFORM idgraph.ensure_submission(p_submission_uuid, p_submission_name, 'sead_utility', p_table_name);
  SELECT array_agg(DISTINCT coalesce(e ->> 'external_id_type', 'uuid')) INTO v_types FROM jsonb_array_elements(p_allocations) e;
  -- One set-based call per id type present (usually one); rows return in input order.
  RETURN QUERY
    WITH input AS (
      SELECT e.ord, e.v ->> 'external_id' AS ext, coalesce(e.v ->> 'external_id_type', 'uuid') AS ty,
             e.v ->> 'content_hash' AS hash
        FROM jsonb_array_elements(p_allocations) WITH ORDINALITY AS e(v, ord)
    ), per_type AS (
      SELECT i.ty, array_agg(i.ext ORDER BY i.ord) AS exts, array_agg(i.hash ORDER BY i.ord) AS hashes,
             array_agg(i.ord ORDER BY i.ord) AS ords
        FROM input i GROUP BY i.ty
    )
    SELECT b.external_id, sead_utility._int(b.alloc_integer_id), b.is_new
      FROM per_type p
     CROSS JOIN LATERAL idgraph._allocate_batch(p_submission_uuid, v_rel, p_column_name, p.exts, p.ty, p.hashes) b
     ORDER BY p.ords[b.ordinality];
END
$$;
COMMENT ON FUNCTION sead_utility.allocate_identity_batch(uuid, text, text, text, jsonb) IS
  'SEAD compatibility: idgraph.allocate_batch over a JSON array of {external_id, external_id_type, content_hash}.';

CREATE OR REPLACE FUNCTION sead_utility.resolve_external_id(p_table_name text, p_column_name text, p_external_id text)
RETURNS integer
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  r record;
BEGIN
  SELECT * INTO r FROM idgraph.resolve(p_table_name, p_column_name, p_external_id);
  IF r.status = 'rolled_back' THEN
    RAISE EXCEPTION 'external id % was rolled back', quote_literal(p_external_id) USING ERRCODE = 'P0002';
  END IF;
  RETURN sead_utility._int(r.alloc_integer_id);
END
$$;
COMMENT ON FUNCTION sead_utility.resolve_external_id(text, text, text) IS
  'SEAD compatibility: the integer of an allocated or committed external id; P0002 otherwise.';

CREATE OR REPLACE FUNCTION sead_utility.commit_submission(p_submission_uuid uuid, p_change_request_id text DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE
AS $$ SELECT FROM idgraph.commit_submission(p_submission_uuid, p_change_request_id) $$;
COMMENT ON FUNCTION sead_utility.commit_submission(uuid, text) IS 'SEAD compatibility: idgraph.commit_submission.';

CREATE OR REPLACE FUNCTION sead_utility.rollback_submission(p_submission_uuid uuid, p_delete_allocations boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  IF p_delete_allocations THEN
    RAISE EXCEPTION 'idgraph never deletes allocations: rolled-back integers stay reserved for their external ids'
      USING ERRCODE = '0A000', HINT = 'Call rollback_submission(uuid) without p_delete_allocations.';
  END IF;
  PERFORM idgraph.rollback_submission(p_submission_uuid, NULL);
END
$$;
COMMENT ON FUNCTION sead_utility.rollback_submission(uuid, boolean) IS
  'SEAD compatibility: idgraph.rollback_submission. p_delete_allocations = true is refused (0A000): integers are never freed.';

CREATE OR REPLACE FUNCTION sead_utility.detect_change(p_table_name text, p_external_id text, p_new_content_hash text)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  v_rel regclass := idgraph._resolve_table(p_table_name);
  v_cols name[];
BEGIN
  SELECT array_agg(t.column_name) INTO v_cols FROM idgraph.targets t WHERE t.table_oid = v_rel;
  IF v_cols IS NULL THEN
    RAISE EXCEPTION 'table % has no registered target', v_rel USING ERRCODE = '42704';
  ELSIF cardinality(v_cols) > 1 THEN
    RAISE EXCEPTION 'table % has several registered columns (%); use idgraph.detect_change with a column', v_rel, v_cols
      USING ERRCODE = '22023';
  END IF;
  RETURN idgraph._detect_change(v_rel, v_cols[1], p_external_id, p_new_content_hash, NULL);
END
$$;
COMMENT ON FUNCTION sead_utility.detect_change(text, text, text) IS
  'SEAD compatibility: idgraph.detect_change for the one registered column of the table.';

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA sead_utility FROM PUBLIC;
GRANT USAGE ON SCHEMA sead_utility TO idgraph_reader, idgraph_writer, idgraph_admin;
GRANT EXECUTE ON FUNCTION sead_utility._int(bigint), sead_utility.resolve_external_id(text, text, text),
                          sead_utility.detect_change(text, text, text) TO idgraph_reader;
GRANT EXECUTE ON FUNCTION
  sead_utility.allocate_identity(uuid, text, text, text, text, text, text, text, jsonb),
  sead_utility.allocate_identity_batch(uuid, text, text, text, jsonb),
  sead_utility.commit_submission(uuid, text), sead_utility.rollback_submission(uuid, boolean)
  TO idgraph_writer;
GRANT EXECUTE ON FUNCTION idgraph.ensure_submission(uuid, text, text, text) TO idgraph_writer;
