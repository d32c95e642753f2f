-- Verify idgraph:grants_slo: each side of each boundary.
DO $$
BEGIN
  IF NOT has_function_privilege('idgraph_reader', 'idgraph.slo_recommendations(text,text,integer,boolean)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_reader', 'idgraph.slo_alert_rules(text)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_reader', 'idgraph.slo_dashboard(text)', 'EXECUTE')
     OR NOT has_table_privilege('idgraph_reader', 'idgraph.slo_recommendations', 'SELECT')
     OR has_function_privilege('idgraph_reader', 'idgraph.record_sli(jsonb)', 'EXECUTE')
     OR has_function_privilege('idgraph_reader', 'idgraph.slo_decide(text,uuid,text,text,jsonb,text)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_writer', 'idgraph.record_sli(jsonb)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_writer', 'idgraph.slo_decide(text,uuid,text,text,jsonb,text)', 'EXECUTE')
     OR has_function_privilege('idgraph_writer', 'idgraph.slo_auto_approval_rule_create(text,jsonb,boolean)', 'EXECUTE')
     OR has_function_privilege('idgraph_writer', 'idgraph.apply_sli_retention()', 'EXECUTE')
     OR has_function_privilege('idgraph_writer', 'idgraph._record_sli_apply(jsonb)', 'EXECUTE')
     OR has_table_privilege('idgraph_writer', 'idgraph.sli_aggregates', 'INSERT')
     OR has_table_privilege('idgraph_writer', 'idgraph.slo_auto_approval_rules', 'SELECT')
     OR NOT has_function_privilege('idgraph_admin', 'idgraph.slo_auto_approval_rule_create(text,jsonb,boolean)', 'EXECUTE')
     OR NOT has_function_privilege('idgraph_admin', 'idgraph.refresh_slo_dashboard()', 'EXECUTE')
     OR has_function_privilege('public', 'idgraph._slo_compute(text,text,integer)', 'EXECUTE') THEN
    RAISE EXCEPTION 'SLO grants are wrong';
  END IF;
END
$$;
