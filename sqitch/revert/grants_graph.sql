-- Revert idgraph:grants_graph
BEGIN;
REVOKE ALL ON FUNCTION
  idgraph.dependencies(text, text, integer, boolean, boolean), idgraph.cycles(),
  idgraph.composite_availability, idgraph.check_slo(text, float8),
  idgraph.impact_analysis, idgraph.slo(text), idgraph.discovery_priority(text),
  idgraph.ingest_graph(jsonb), idgraph.set_availability(text, float8), idgraph.set_published_sla(text, float8),
  idgraph.set_slo(text, float8, float8, float8, text, text), idgraph.acknowledge_cycle(bigint, text),
  idgraph.mark_stale(interval), idgraph._ingest_apply(text, timestamptz, jsonb, jsonb),
  idgraph._record_cycles(jsonb, bigint), idgraph.graph_cache_reset()
  FROM idgraph_reader, idgraph_writer;
REVOKE ALL ON idgraph.services, idgraph.edges, idgraph.effective_edges, idgraph.circular_dependency_alerts,
              idgraph.slos, idgraph.slo_audit_log, idgraph.graph_state FROM idgraph_reader;
COMMIT;
