-- Verify idgraph:grants_graph_changes: readers read the log, nobody but the owner writes it.
DO $$
BEGIN
  IF NOT has_table_privilege('idgraph_reader', 'idgraph.graph_changes', 'SELECT')
     OR has_table_privilege('idgraph_admin', 'idgraph.graph_changes', 'INSERT')
     OR has_table_privilege('idgraph_admin', 'idgraph.graph_changes', 'DELETE')
     OR has_table_privilege('public', 'idgraph.graph_changes', 'SELECT')
     OR NOT has_function_privilege('idgraph_reader', 'idgraph.graph_cache_stats()', 'EXECUTE')
     OR has_function_privilege('public', 'idgraph.graph_cache_stats()', 'EXECUTE') THEN
    RAISE EXCEPTION 'graph change log grants are wrong';
  END IF;
END
$$;
