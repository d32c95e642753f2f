-- idgraph identity: who acted, the audit rows every identity call writes, and the
-- verification of their seal chain (docs/AUDIT.md). The layering and the SQLSTATEs of all
-- identity functions: sql/identity_targets.sql.

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
