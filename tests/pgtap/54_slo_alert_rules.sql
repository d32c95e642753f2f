-- Burn-rate alert rules (issue 8, TRD FR-10, AC-010). tests/slo_alerts.sh proves the
-- output with promtool; here: its shape, selection and errors.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(12);
DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
SELECT idgraph.ingest_graph('{"source": "manual", "nodes": [{"service_id": "al-a", "team": "payments"},
  {"service_id": "al-b"}, {"service_id": "al-none"}]}');
SELECT idgraph.set_slo('al-a', 0.999);
SELECT idgraph.set_slo('al-b', 0.9995);
CREATE TEMP TABLE o AS SELECT idgraph.slo_alert_rules('al-a') AS a, idgraph.slo_alert_rules() AS all_rules;
SELECT matches((SELECT a FROM o), E'groups:\n  - name: "idgraph-slo-al-a"\n', 'one group per service');
SELECT is((SELECT count(*)::int FROM o, regexp_matches(a, '- record: slo:sli_error:ratio_rate', 'g')), 7, 'seven error-ratio windows');
SELECT is((SELECT count(*)::int FROM o, regexp_matches(a, '- record: slo:error_budget_burn_rate:rate', 'g')), 7, 'seven burn-rate windows');
SELECT matches((SELECT a FROM o), 'slo:sli_error:ratio_rate1h\{service="al-a"\} > \(14\.4 \* 0\.001\)\n          and\n          slo:sli_error:ratio_rate5m\{service="al-a"\} > \(14\.4 \* 0\.001\)',
               '14.4x over 1h and 5m');
SELECT matches((SELECT a FROM o), 'ratio_rate6h\{service="al-a"\} > \(6 \* 0\.001\)', '6x over 6h');
SELECT matches((SELECT a FROM o), 'ratio_rate3d\{service="al-a"\} > \(1 \* 0\.001\)', '1x over 3d');
SELECT is((SELECT count(*)::int FROM o, regexp_matches(a, 'severity: page', 'g')), 2, 'two paging alerts');
SELECT is((SELECT count(*)::int FROM o, regexp_matches(a, 'severity: ticket', 'g')), 2, 'two ticket alerts');
SELECT matches((SELECT a FROM o), 'team: "payments"', 'labelled with the team');
SELECT is((SELECT count(*)::int FROM o, regexp_matches(all_rules, '  - name: ', 'g')), 2, 'all services with an SLO');
SELECT throws_ok($$SELECT idgraph.slo_alert_rules('al-none')$$, 'P0002', NULL, 'no active SLO -> P0002');
SELECT throws_ok($$SELECT idgraph.slo_alert_rules('ghost')$$, 'P0002', NULL, 'unknown service -> P0002');
SELECT * FROM finish();
ROLLBACK;
