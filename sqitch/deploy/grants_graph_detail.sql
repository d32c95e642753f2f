-- Deploy idgraph:grants_graph_detail
-- composite_availability and impact_analysis take p_detail ('summary' | 'full') since
-- issue 10: a new signature. On a database upgraded from 0.1.0 the update dropped the old
-- functions with their grants; readers get the new ones here (on a fresh deploy
-- grants_graph has granted them already: this is a no-op there).
BEGIN;
GRANT EXECUTE ON FUNCTION
  idgraph.composite_availability(text, float8, text),
  idgraph.impact_analysis(text, float8, text)
  TO idgraph_reader;
COMMIT;
