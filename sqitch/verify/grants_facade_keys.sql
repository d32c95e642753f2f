-- Verify idgraph:grants_facade_keys on pg
DO $$
BEGIN
  IF NOT has_function_privilege('idgraph_admin', 'idgraph.api_key_rotate(text,text,text,interval,timestamptz)', 'EXECUTE')
     OR has_function_privilege('idgraph_facade', 'idgraph.api_key_rotate(text,text,text,interval,timestamptz)', 'EXECUTE')
     OR has_function_privilege('idgraph_writer', 'idgraph.api_key_rotate(text,text,text,interval,timestamptz)', 'EXECUTE') THEN
    RAISE EXCEPTION 'api_key_rotate must be executable by idgraph_admin only';
  END IF;
END
$$;
