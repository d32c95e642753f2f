-- Deploy idgraph:grants_doors: one validated door per write (0.2.0).
-- ingest_graph is SECURITY DEFINER now, so writers no longer need (and must not have) the
-- internals that trust their input; the principal door is the facade's alone.
BEGIN;
REVOKE EXECUTE ON FUNCTION idgraph._ingest_apply(text, timestamptz, jsonb, jsonb),
                           idgraph._record_cycles(jsonb, bigint)
  FROM idgraph_writer;
GRANT EXECUTE ON FUNCTION idgraph.set_principal(text, text) TO idgraph_facade;
-- The audit seal stream, for anchoring outside the database (docs/AUDIT.md).
GRANT EXECUTE ON FUNCTION idgraph.audit_seal_digests(bigint, integer) TO idgraph_admin, idgraph_facade;
COMMIT;
