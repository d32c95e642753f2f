-- Revert idgraph:grants_facade
BEGIN;
REVOKE ALL ON FUNCTION
  idgraph.api_key_lookup(text), idgraph.api_key_touch(text), idgraph._check_scopes(text[]),
  idgraph.api_key_create(text, text, text, text[], text, timestamptz),
  idgraph.api_key_revoke(text), idgraph.api_keys_list()
  FROM idgraph_facade, idgraph_admin;
REVOKE ALL ON FUNCTION idgraph.refresh_centrality(text, integer) FROM idgraph_facade;
REVOKE ALL ON FUNCTION idgraph.services_page(text, integer), idgraph.service(text) FROM idgraph_reader;
-- The role is cluster-wide: keep it while another database still grants it something.
DO $$
BEGIN
  EXECUTE 'REVOKE idgraph_writer FROM idgraph_facade';
  BEGIN
    DROP ROLE IF EXISTS idgraph_facade;
  EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'role idgraph_facade is still used elsewhere in this cluster; kept';
    EXECUTE 'GRANT idgraph_writer TO idgraph_facade';
  END;
END
$$;
COMMIT;
