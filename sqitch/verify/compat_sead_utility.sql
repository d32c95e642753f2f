-- Verify idgraph:compat_sead_utility: every SEAD call exists with SEAD's argument list, and
-- the integer guard works.
DO $$
BEGIN
  PERFORM 'sead_utility.allocate_identity(uuid,text,text,text,text,text,text,text,jsonb)'::regprocedure,
          'sead_utility.allocate_identity_batch(uuid,text,text,text,jsonb)'::regprocedure,
          'sead_utility.resolve_external_id(text,text,text)'::regprocedure,
          'sead_utility.commit_submission(uuid,text)'::regprocedure,
          'sead_utility.rollback_submission(uuid,boolean)'::regprocedure,
          'sead_utility.detect_change(text,text,text)'::regprocedure;
  IF sead_utility._int(2147483647) <> 2147483647 THEN
    RAISE EXCEPTION 'sead_utility._int is wrong';
  END IF;
  BEGIN
    PERFORM sead_utility._int(2147483648);
    RAISE EXCEPTION 'sead_utility._int let 2^31 through';
  EXCEPTION WHEN numeric_value_out_of_range THEN NULL;
  END;
END
$$;
