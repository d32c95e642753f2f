-- Deploy idgraph:grants_graph
BEGIN;
-- Reader: query the graph.
GRANT EXECUTE ON FUNCTION
  idgraph.dependencies(text, text, integer, boolean, boolean),
  idgraph.cycles(),
  -- By name (each is the only one of its name): their signatures grew p_detail in 0.2.0
  -- (grants_graph_detail grants the new ones on upgraded databases).
  idgraph.composite_availability,
  idgraph.check_slo(text, float8),
  idgraph.impact_analysis,
  idgraph.slo(text),
  idgraph.discovery_priority(text)
  TO idgraph_reader;
GRANT SELECT ON idgraph.services, idgraph.edges, idgraph.effective_edges, idgraph.circular_dependency_alerts,
                idgraph.slos, idgraph.slo_audit_log, idgraph.graph_state TO idgraph_reader;
-- Writer: ingest, telemetry, SLOs, alerts.
GRANT EXECUTE ON FUNCTION
  idgraph.ingest_graph(jsonb),
  idgraph.set_availability(text, float8),
  idgraph.set_published_sla(text, float8),
  idgraph.set_slo(text, float8, float8, float8, text, text),
  idgraph.acknowledge_cycle(bigint, text),
  idgraph.mark_stale(interval),
  idgraph._ingest_apply(text, timestamptz, jsonb, jsonb),
  idgraph._record_cycles(jsonb, bigint)
  TO idgraph_writer;
-- Readers: the cache reset is harmless (the next call reloads).
GRANT EXECUTE ON FUNCTION idgraph.graph_cache_reset() TO idgraph_reader;
COMMIT;
