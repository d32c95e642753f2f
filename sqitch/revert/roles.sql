-- Revert idgraph:roles
-- A role still used by another database of this cluster cannot be dropped: keep it then.
BEGIN;
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['idgraph_admin', 'idgraph_writer', 'idgraph_reader'] LOOP
    BEGIN
      EXECUTE format('DROP ROLE IF EXISTS %I', r);
    EXCEPTION WHEN dependent_objects_still_exist THEN
      RAISE NOTICE 'role % is still used elsewhere in this cluster; kept', r;
    END;
  END LOOP;
END
$$;
COMMIT;
