-- Revert idgraph:grants_centrality_state
BEGIN;
REVOKE ALL ON idgraph.centrality_state FROM idgraph_reader;
COMMIT;
