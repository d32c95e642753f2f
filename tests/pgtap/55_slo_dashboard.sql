-- Dashboard (issue 8, TRD FR-12): coverage by team and criticality, error-budget health
-- from the SLI history, recommendation quality; refreshed by idgraph.refresh_slo_dashboard.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(9);
DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
SELECT idgraph.ingest_graph('{"source": "manual", "nodes": [
  {"service_id": "db-a", "team": "payments", "criticality": "high"},
  {"service_id": "db-b", "team": "payments", "criticality": "high"},
  {"service_id": "db-c", "team": "search", "criticality": "low"}]}');
SELECT idgraph.set_slo('db-a', 0.999);
SELECT idgraph.set_slo('db-c', 0.99);
CREATE TEMP TABLE t AS SELECT to_timestamp(floor(extract(epoch FROM now()) / 3600) * 3600) AS e;
-- db-a: 0.05% errors over 10 hours (half its budget); db-c: 2% (twice its budget).
SELECT idgraph.record_sli(jsonb_build_object('windows', jsonb_agg(jsonb_build_object(
         'service_id', s, 'window', '1h',
         'start', to_char((t.e - i * interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
         'good_events', CASE s WHEN 'db-a' THEN 9995 ELSE 9800 END, 'total_events', 10000))))
  FROM generate_series(1, 10) i, t, unnest(ARRAY['db-a', 'db-c']) s;
SELECT ok(idgraph.refresh_slo_dashboard() ? 'refreshed_at', 'refreshed');
SELECT is((SELECT (services, with_slo, coverage)::text FROM idgraph.slo_dashboard_coverage WHERE team = 'payments' AND criticality = 'high'),
          '(2,1,0.5000)', 'payments/high: 1 of 2 covered');
SELECT is((SELECT (services, with_slo)::text FROM idgraph.slo_dashboard_coverage WHERE team = 'search'), '(1,1)', 'search covered');
SELECT ok((SELECT abs(budget_consumed - 0.5) < 1e-9 FROM idgraph.slo_dashboard_error_budget_health WHERE service_id = 'db-a'),
          'db-a consumed half its budget: (1 - 0.9995) / (1 - 0.999)');
SELECT is((SELECT status FROM idgraph.slo_dashboard_error_budget_health WHERE service_id = 'db-a'), 'healthy', 'db-a healthy');
SELECT is((SELECT status FROM idgraph.slo_dashboard_error_budget_health WHERE service_id = 'db-c'), 'exhausted', 'db-c exhausted (2x)');
SELECT is(jsonb_array_length(idgraph.slo_dashboard('error_budget_health')), 2, 'the JSON door');
SELECT is(jsonb_array_length(idgraph.slo_dashboard('recommendation_quality')), 0, 'no recommendations yet');
SELECT throws_ok($$SELECT idgraph.slo_dashboard('pie')$$, '22023', NULL, 'unknown view -> 22023');
SELECT * FROM finish();
ROLLBACK;
