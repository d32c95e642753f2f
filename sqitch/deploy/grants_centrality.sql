-- Deploy idgraph:grants_centrality
BEGIN;
GRANT EXECUTE ON FUNCTION idgraph.centrality_of(text), idgraph.centrality_top(text, integer) TO idgraph_reader;
GRANT SELECT ON idgraph.centrality TO idgraph_reader;
GRANT EXECUTE ON FUNCTION idgraph.refresh_centrality(text, integer) TO idgraph_admin;
COMMIT;
