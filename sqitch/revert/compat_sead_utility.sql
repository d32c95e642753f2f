-- Revert idgraph:compat_sead_utility
BEGIN;
DROP FUNCTION IF EXISTS
  sead_utility.allocate_identity(uuid, text, text, text, text, text, text, text, jsonb),
  sead_utility.allocate_identity_batch(uuid, text, text, text, jsonb),
  sead_utility.resolve_external_id(text, text, text),
  sead_utility.commit_submission(uuid, text),
  sead_utility.rollback_submission(uuid, boolean),
  sead_utility.detect_change(text, text, text),
  sead_utility._int(bigint);
-- The schema goes only when nothing else (SEAD's own objects) lives in it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_namespace n ON d.refobjid = n.oid
                  WHERE n.nspname = 'sead_utility' AND d.refclassid = 'pg_namespace'::regclass) THEN
    DROP SCHEMA IF EXISTS sead_utility;
  END IF;
END
$$;
COMMIT;
