-- Revert idgraph:grants_slo
BEGIN;
REVOKE ALL ON FUNCTION
  idgraph.slo_recommendations(text, text, integer, boolean), idgraph.slo_alert_rules(text),
  idgraph.slo_dashboard(text), idgraph.record_sli(jsonb),
  idgraph.slo_decide(text, uuid, text, text, jsonb, text),
  idgraph.slo_auto_approval_rule_create(text, jsonb, boolean), idgraph.slo_auto_approval_rule_enable(text, boolean),
  idgraph.slo_auto_approval_rule_delete(text), idgraph.slo_auto_approval_rules(),
  idgraph.apply_sli_retention(), idgraph.refresh_slo_dashboard()
  FROM idgraph_reader, idgraph_writer, idgraph_admin;
REVOKE ALL ON idgraph.sli_aggregates, idgraph.slo_recommendations, idgraph.slo_dashboard_coverage,
              idgraph.slo_dashboard_error_budget_health, idgraph.slo_dashboard_recommendation_quality
  FROM idgraph_reader;
REVOKE ALL ON idgraph.slo_auto_approval_rules FROM idgraph_admin;
COMMIT;
