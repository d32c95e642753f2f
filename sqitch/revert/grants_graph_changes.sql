-- Revert idgraph:grants_graph_changes
BEGIN;
REVOKE ALL ON idgraph.graph_changes FROM idgraph_reader;
REVOKE ALL ON FUNCTION idgraph.graph_cache_stats() FROM idgraph_reader;
COMMIT;
