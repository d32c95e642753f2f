-- Verify idgraph:compat_sead_loaders: the calls exist with SEAD's argument lists, the COPY
-- door has its three triggers, and each side of each boundary holds.
DO $$
BEGIN
  PERFORM 'sead_utility.allocate_system_id(text,text,text,text,text,jsonb)'::regprocedure,
          'sead_utility.submission_uuid(text)'::regprocedure;
  IF (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'sead_utility.identity_allocations'::regclass) <> 3 THEN
    RAISE EXCEPTION 'sead_utility.identity_allocations lacks its INSTEAD OF / statement triggers';
  END IF;
  IF (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
       WHERE attrelid = 'sead_utility.identity_allocations'::regclass AND attnum > 0)
     <> ARRAY['allocation_uuid', 'table_name', 'column_name', 'external_id', 'external_id_type', 'alloc_integer_id',
              'submission_uuid', 'submission_name', 'change_request_id', 'external_system_id', 'external_data',
              'content_hash', 'created_at', 'created_by', 'status', 'committed_at'] THEN
    RAISE EXCEPTION 'sead_utility.identity_allocations does not have seed 000''s columns';
  END IF;
  IF NOT has_function_privilege('idgraph_writer', 'sead_utility.allocate_system_id(text,text,text,text,text,jsonb)', 'EXECUTE')
     OR has_function_privilege('idgraph_reader', 'sead_utility.allocate_system_id(text,text,text,text,text,jsonb)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_writer', 'idgraph.ensure_named_submission(text,text,text,text)', 'EXECUTE')
     OR has_function_privilege('idgraph_reader', 'idgraph.ensure_named_submission(text,text,text,text)', 'EXECUTE')
     OR NOT has_table_privilege('idgraph_reader', 'sead_utility.identity_allocations', 'SELECT')
     OR has_table_privilege('idgraph_reader', 'sead_utility.identity_allocations', 'INSERT')
     OR NOT has_table_privilege('idgraph_writer', 'sead_utility.identity_allocations', 'INSERT')
     OR has_table_privilege('public', 'sead_utility.identity_allocations', 'SELECT')
     OR has_function_privilege('public', 'sead_utility._identity_allocations_apply()', 'EXECUTE') THEN
    RAISE EXCEPTION 'compat_sead_loaders grants are wrong';
  END IF;
  IF sead_utility.submission_uuid('a3e4f567-e89b-12d3-a456-426614174001') <> 'a3e4f567-e89b-12d3-a456-426614174001'::uuid
     OR idgraph.named_submission_uuid('run-1') <> idgraph.named_submission_uuid('run-1')
     OR substr(idgraph.named_submission_uuid('run-1')::text, 15, 1) <> '8' THEN
    RAISE EXCEPTION 'submission identifiers do not map to uuids as documented';
  END IF;
END
$$;
