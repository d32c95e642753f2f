-- Verify idgraph:grants_graph_detail: readers run both (with p_detail); writers only as
-- readers (they are none), PUBLIC not at all.
DO $$
BEGIN
  IF NOT has_function_privilege('idgraph_reader', 'idgraph.composite_availability(text,double precision,text)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_reader', 'idgraph.impact_analysis(text,double precision,text)', 'EXECUTE')
     OR has_function_privilege('public', 'idgraph.composite_availability(text,double precision,text)', 'EXECUTE')
     OR has_function_privilege('public', 'idgraph.impact_analysis(text,double precision,text)', 'EXECUTE') THEN
    RAISE EXCEPTION 'composite_availability / impact_analysis grants are wrong';
  END IF;
END
$$;
