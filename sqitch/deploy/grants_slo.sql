-- Deploy idgraph:grants_slo
-- The SLO engine: readers read recommendations, alert rules and the dashboard; writers
-- record SLI history and decide on recommendations; admins manage auto-approval rules,
-- retention and the dashboard refresh.
BEGIN;
GRANT EXECUTE ON FUNCTION
  idgraph.slo_recommendations(text, text, integer, boolean),
  idgraph.slo_alert_rules(text),
  idgraph.slo_dashboard(text)
  TO idgraph_reader;
GRANT SELECT ON idgraph.sli_aggregates, idgraph.slo_recommendations,
                idgraph.slo_dashboard_coverage, idgraph.slo_dashboard_error_budget_health,
                idgraph.slo_dashboard_recommendation_quality TO idgraph_reader;
GRANT EXECUTE ON FUNCTION
  idgraph.record_sli(jsonb),
  idgraph.slo_decide(text, uuid, text, text, jsonb, text)
  TO idgraph_writer;
GRANT EXECUTE ON FUNCTION
  idgraph.slo_auto_approval_rule_create(text, jsonb, boolean),
  idgraph.slo_auto_approval_rule_enable(text, boolean),
  idgraph.slo_auto_approval_rule_delete(text),
  idgraph.slo_auto_approval_rules(),
  idgraph.apply_sli_retention(),
  idgraph.refresh_slo_dashboard()
  TO idgraph_admin;
GRANT SELECT ON idgraph.slo_auto_approval_rules TO idgraph_admin;
COMMIT;
