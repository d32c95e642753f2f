-- Deploy idgraph:grants_graph_changes
-- Readers' graph calls catch their backend's cached graph up from the change log, and
-- readers see how their session's cache got its graph.
BEGIN;
GRANT SELECT ON idgraph.graph_changes TO idgraph_reader;
GRANT EXECUTE ON FUNCTION idgraph.graph_cache_stats() TO idgraph_reader;
COMMIT;
