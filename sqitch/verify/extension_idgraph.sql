-- Verify idgraph:extension_idgraph: installed, and its core works.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'idgraph') THEN
    RAISE EXCEPTION 'extension idgraph is not installed';
  END IF;
  IF idgraph.normalize_external_id('{A3E4F567-E89B-12D3-A456-426614174001}', 'uuid')
     <> 'a3e4f567-e89b-12d3-a456-426614174001' THEN
    RAISE EXCEPTION 'idgraph.normalize_external_id does not work';
  END IF;
  PERFORM 'idgraph.allocations'::regclass, 'idgraph.audit_log'::regclass,
          'idgraph.allocate(uuid,text,text,text,text,text)'::regprocedure;
END
$$;
