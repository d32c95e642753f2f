-- idgraph identity: submissions — the unit a pipeline allocates in and then commits or
-- rolls back; named submissions (SEAD's identifiers) and expiry of stale pending ones.
-- The layering and the SQLSTATEs: sql/identity_targets.sql.

-- ---------------------------------------------------------------------------
-- Internal helper
-- ---------------------------------------------------------------------------

-- Locks a submission against commit/rollback for the rest of the transaction and checks
-- it still accepts allocations. The lock is the submission's heavyweight lock
-- (idgraph._lock_submission) in share mode: concurrent allocations into the same
-- submission proceed together; commit/rollback take it exclusively and so wait for them.
-- Not a row lock: FOR KEY SHARE on the one submission row wrote that hot tuple on every
-- call, and a new multixact whenever two allocations overlapped (measured: the largest
-- single cost of an allocation at 32 clients). The status is read after the lock is
-- granted, by a statement of its own: under READ COMMITTED its snapshot is taken then, so
-- a commit that finished while we waited is seen (55000). A transaction-wide snapshot
-- (REPEATABLE READ, SERIALIZABLE) may predate that commit: there the row lock is taken as
-- well, which fails with 40001 when the row changed since the snapshot.
CREATE FUNCTION idgraph._open_submission(p_submission uuid) RETURNS integer
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
-- Commit / rollback
-- ---------------------------------------------------------------------------

CREATE FUNCTION idgraph._close_submission(p_submission uuid, p_to text) RETURNS idgraph.submissions
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

-- Neither commit nor rollback writes the submission's own allocation rows: their status
-- is the submission's (idgraph.allocation_rows). Only rows that change owner are written:
-- those the submission shared (commit), those handed over to a sharer (rollback).
CREATE FUNCTION idgraph.commit_submission(p_submission uuid, p_change_request_id text DEFAULT NULL)
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

CREATE FUNCTION idgraph.rollback_submission(p_submission uuid, p_reason text DEFAULT NULL)
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
           (SELECT count(*) FROM idgraph.allocation_rows a WHERE a.submission_no = s.submission_no)
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
