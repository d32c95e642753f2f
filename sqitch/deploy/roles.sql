-- Deploy idgraph:roles
-- Roles are cluster-wide: create each only if it does not exist yet (another database
-- of the same cluster may have deployed idgraph already).
BEGIN;
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['idgraph_reader', 'idgraph_writer', 'idgraph_admin'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$$;
-- A writer may do everything a reader may; an admin everything a writer may.
GRANT idgraph_reader TO idgraph_writer;
GRANT idgraph_writer TO idgraph_admin;
COMMENT ON ROLE idgraph_reader IS 'idgraph: resolve ids and read graphs';
COMMENT ON ROLE idgraph_writer IS 'idgraph: allocate, commit, roll back, ingest graphs, set SLOs';
COMMENT ON ROLE idgraph_admin IS 'idgraph: register targets, audit, refresh centrality';
COMMIT;
