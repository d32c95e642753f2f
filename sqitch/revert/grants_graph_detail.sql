-- Revert idgraph:grants_graph_detail
BEGIN;
REVOKE ALL ON FUNCTION
  idgraph.composite_availability(text, float8, text),
  idgraph.impact_analysis(text, float8, text)
  FROM idgraph_reader;
COMMIT;
