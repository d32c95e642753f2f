-- idgraph identity: resolution (external id -> integer, integer -> external id) and
-- change detection. The layering and the SQLSTATEs: sql/identity_targets.sql.

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

CREATE FUNCTION idgraph.detect_change(p_table text, p_column text, p_external_id text, p_content_hash text,
                                      p_external_id_type text DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT idgraph._detect_change(idgraph._resolve_table(p_table), p_column, p_external_id, p_content_hash, p_external_id_type) $$;
COMMENT ON FUNCTION idgraph.detect_change(text, text, text, text, text) IS
$$'insert' (never allocated, or rolled back), 'update' (content hash differs or unknown) or 'skip' (same hash).
Example: SELECT idgraph.detect_change('tbl_sites', 'site_id', '…', 'sha256-hex');$$;
