-- Verify idgraph:grants_centrality_state: readers read the refresh state, nobody but the owner writes it.
DO $$
BEGIN
  IF NOT has_table_privilege('idgraph_reader', 'idgraph.centrality_state', 'SELECT')
     OR has_table_privilege('idgraph_admin', 'idgraph.centrality_state', 'UPDATE')
     OR has_table_privilege('public', 'idgraph.centrality_state', 'SELECT') THEN
    RAISE EXCEPTION 'centrality_state grants are wrong';
  END IF;
END
$$;
