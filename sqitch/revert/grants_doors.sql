-- Revert idgraph:grants_doors
BEGIN;
REVOKE EXECUTE ON FUNCTION idgraph.set_principal(text, text) FROM idgraph_facade;
REVOKE EXECUTE ON FUNCTION idgraph.audit_seal_digests(bigint, integer) FROM idgraph_admin, idgraph_facade;
GRANT EXECUTE ON FUNCTION idgraph._ingest_apply(text, timestamptz, jsonb, jsonb),
                          idgraph._record_cycles(jsonb, bigint)
  TO idgraph_writer;
COMMIT;
