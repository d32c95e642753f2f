-- Deploy idgraph:grants_facade
-- The HTTPS facade's role: NOLOGIN idgraph_facade, a member of idgraph_writer (so it can
-- do what a writer does), plus key lookup and a centrality refresh. The facade logs in
-- as an ordinary LOGIN role granted idgraph_facade (`make run` creates one), never as a
-- superuser. Key management (create, list, revoke) is for idgraph_admin.
BEGIN;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'idgraph_facade') THEN
    CREATE ROLE idgraph_facade NOLOGIN;
  END IF;
END
$$;
COMMENT ON ROLE idgraph_facade IS 'idgraph: the HTTPS facade (writer + API-key lookup + centrality refresh)';
GRANT idgraph_writer TO idgraph_facade;
GRANT EXECUTE ON FUNCTION
  idgraph.api_key_lookup(text),
  idgraph.api_key_touch(text),
  idgraph.refresh_centrality(text, integer)
  TO idgraph_facade;
GRANT EXECUTE ON FUNCTION
  idgraph._check_scopes(text[]),
  idgraph.api_key_create(text, text, text, text[], text, timestamptz),
  idgraph.api_key_revoke(text),
  idgraph.api_keys_list()
  TO idgraph_admin;
-- The service catalogue reads behind GET /api/v1/services: readers may list.
GRANT EXECUTE ON FUNCTION idgraph.services_page(text, integer), idgraph.service(text) TO idgraph_reader;
COMMIT;
