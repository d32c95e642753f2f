-- Verify idgraph:grants_submission_expiry: each side of each boundary.
DO $$
BEGIN
  IF NOT has_function_privilege('idgraph_admin', 'idgraph.expire_submissions(interval,integer)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_admin', 'idgraph.expired_submissions(interval)', 'EXECUTE')
     OR has_function_privilege('idgraph_writer', 'idgraph.expire_submissions(interval,integer)', 'EXECUTE')
     OR has_function_privilege('idgraph_writer', 'idgraph.expired_submissions(interval)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_reader', 'idgraph.submission_expiry_status()', 'EXECUTE')
     OR has_function_privilege('public', 'idgraph.submission_expiry_status()', 'EXECUTE')
     OR has_function_privilege('public', 'idgraph._submission_expiry_age()', 'EXECUTE') THEN
    RAISE EXCEPTION 'submission expiry grants are wrong';
  END IF;
END
$$;
