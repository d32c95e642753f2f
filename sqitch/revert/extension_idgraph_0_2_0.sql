-- Revert idgraph:extension_idgraph_0_2_0.
-- idgraph has no downgrade path: 0.2.0's upgrade carries rows into new layouts, and going
-- back would lose what 0.2.0 recorded since. A database that this change upgraded from
-- 0.1.0 refuses, and says what to do; one that was installed at 0.2.0 has nothing to revert.
BEGIN;
DO $$
DECLARE
  v_from text;
BEGIN
  SELECT upgraded_from INTO v_from FROM idgraph.releases
   WHERE version = '0.2.0' AND upgraded_from IS NOT NULL ORDER BY installed_at DESC LIMIT 1;
  IF v_from IS NOT NULL THEN
    RAISE EXCEPTION 'idgraph cannot be downgraded from 0.2.0 to %', v_from
      USING ERRCODE = '0A000',
            HINT = 'Restore the dump taken before the upgrade (pg_restore), or revert extension_idgraph too, which drops idgraph and all its data.';
  END IF;
END
$$;
COMMIT;
