-- Verify idgraph:extension_idgraph_0_2_0: the extension runs 0.2.0 and its release
-- history says so.
DO $$
BEGIN
  IF (SELECT extversion FROM pg_extension WHERE extname = 'idgraph') IS DISTINCT FROM '0.2.0' THEN
    RAISE EXCEPTION 'idgraph is at version %, expected 0.2.0',
      (SELECT extversion FROM pg_extension WHERE extname = 'idgraph');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM idgraph.releases WHERE version = '0.2.0') THEN
    RAISE EXCEPTION 'idgraph.releases has no row for 0.2.0';
  END IF;
END
$$;
