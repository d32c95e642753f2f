-- Verify idgraph:grants_graph: readers query but cannot ingest; writers ingest; nobody writes tables directly.
DO $$
BEGIN
  IF NOT has_function_privilege('idgraph_reader', 'idgraph.dependencies(text,text,integer,boolean,boolean)', 'EXECUTE')
     OR has_function_privilege('idgraph_reader', 'idgraph.ingest_graph(jsonb)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_writer', 'idgraph.ingest_graph(jsonb)', 'EXECUTE')
     OR has_table_privilege('idgraph_writer', 'idgraph.edges', 'INSERT')
     OR has_table_privilege('idgraph_writer', 'idgraph.slo_audit_log', 'INSERT') THEN
    RAISE EXCEPTION 'graph grants are wrong';
  END IF;
END
$$;
