-- Deploy idgraph:grants_graph_changes
-- Readers' graph calls catch their backend's cached graph up from the change log.
BEGIN;
GRANT SELECT ON idgraph.graph_changes TO idgraph_reader;
COMMIT;
