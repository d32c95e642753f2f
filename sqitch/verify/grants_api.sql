-- Verify idgraph:grants_api: each role has what it needs and nothing that bypasses the audit.
DO $$
BEGIN
  IF NOT has_function_privilege('idgraph_reader', 'idgraph.resolve(text,text,text,text)', 'EXECUTE')
     OR has_function_privilege('idgraph_reader', 'idgraph.allocate(uuid,text,text,text,text,text)', 'EXECUTE') THEN
    RAISE EXCEPTION 'idgraph_reader grants are wrong';
  END IF;
  IF NOT has_function_privilege('idgraph_writer', 'idgraph.allocate_batch(uuid,text,text,text[],text,text[])', 'EXECUTE')
     OR has_table_privilege('idgraph_writer', 'idgraph.allocations', 'INSERT')
     OR has_table_privilege('idgraph_writer', 'idgraph.audit_log', 'INSERT')
     OR has_function_privilege('idgraph_writer', 'idgraph.register_target(regclass,name)', 'EXECUTE') THEN
    RAISE EXCEPTION 'idgraph_writer grants are wrong';
  END IF;
  IF NOT has_function_privilege('idgraph_admin', 'idgraph.register_target(regclass,name)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_admin', 'idgraph.verify_audit()', 'EXECUTE') THEN
    RAISE EXCEPTION 'idgraph_admin grants are wrong';
  END IF;
END
$$;
