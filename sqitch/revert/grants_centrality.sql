-- Revert idgraph:grants_centrality
BEGIN;
REVOKE ALL ON FUNCTION idgraph.centrality_of(text), idgraph.centrality_top(text, integer),
                       idgraph.refresh_centrality(text, integer) FROM idgraph_reader, idgraph_writer, idgraph_admin;
REVOKE ALL ON idgraph.centrality FROM idgraph_reader;
COMMIT;
