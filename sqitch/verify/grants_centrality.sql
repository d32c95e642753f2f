-- Verify idgraph:grants_centrality: readers read centrality, only admins refresh it.
DO $$
BEGIN
  IF NOT has_function_privilege('idgraph_reader', 'idgraph.centrality_top(text,integer)', 'EXECUTE')
     OR has_function_privilege('idgraph_writer', 'idgraph.refresh_centrality(text,integer)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_admin', 'idgraph.refresh_centrality(text,integer)', 'EXECUTE')
     OR has_table_privilege('idgraph_admin', 'idgraph.centrality', 'INSERT') THEN
    RAISE EXCEPTION 'centrality grants are wrong';
  END IF;
END
$$;
