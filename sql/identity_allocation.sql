-- idgraph identity: allocation, the hot path (allocate, allocate_batch).
-- The layering and the SQLSTATEs: sql/identity_targets.sql.

-- ---------------------------------------------------------------------------
-- Allocation
-- ---------------------------------------------------------------------------

-- The refusal of an id whose 16-byte key is another id's (idgraph.external_id_key): one
-- message for allocate and allocate_batch. Called only when it happens, so the hot path's
-- rule of no nested calls holds.
CREATE FUNCTION idgraph._refuse_key_clash(p_external_id text, p_stored text, p_rel regclass, p_column text)
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
