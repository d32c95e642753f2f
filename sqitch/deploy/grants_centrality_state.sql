-- Deploy idgraph:grants_centrality_state
-- Readers see when centrality was last refreshed (the facade's /metrics reads it to count
-- stale rows); only refresh_centrality (SECURITY DEFINER) writes it.
BEGIN;
GRANT SELECT ON idgraph.centrality_state TO idgraph_reader;
COMMIT;
