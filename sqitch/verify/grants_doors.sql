-- Verify idgraph:grants_doors: writers cannot reach the internals, the facade can set the
-- principal, nobody else can.
DO $$
BEGIN
  IF has_function_privilege('idgraph_writer', 'idgraph._ingest_apply(text, timestamptz, jsonb, jsonb)', 'EXECUTE')
     OR has_function_privilege('idgraph_writer', 'idgraph._record_cycles(jsonb, bigint)', 'EXECUTE') THEN
    RAISE EXCEPTION 'idgraph_writer may still execute the ingest internals';
  END IF;
  IF NOT has_function_privilege('idgraph_facade', 'idgraph.set_principal(text, text)', 'EXECUTE') THEN
    RAISE EXCEPTION 'idgraph_facade may not execute idgraph.set_principal';
  END IF;
  IF has_function_privilege('idgraph_writer', 'idgraph.set_principal(text, text)', 'EXECUTE')
     OR has_function_privilege('idgraph_admin', 'idgraph.set_principal(text, text)', 'EXECUTE') THEN
    RAISE EXCEPTION 'a role other than idgraph_facade may execute idgraph.set_principal';
  END IF;
  -- The facade serves it to identity:admin principals only (GET /api/v1/audit/seals).
  IF NOT has_function_privilege('idgraph_admin', 'idgraph.audit_seal_digests(bigint, integer)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_facade', 'idgraph.audit_seal_digests(bigint, integer)', 'EXECUTE')
     OR has_function_privilege('idgraph_writer', 'idgraph.audit_seal_digests(bigint, integer)', 'EXECUTE') THEN
    RAISE EXCEPTION 'idgraph.audit_seal_digests must be executable by idgraph_admin and idgraph_facade only';
  END IF;
END
$$;
