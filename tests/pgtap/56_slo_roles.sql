-- The SLO engine's privileges (sqitch grants_slo), from each side of each boundary:
-- readers read recommendations, alert rules and the dashboard; writers record SLI history
-- and decide; only admins manage auto-approval rules, retention and the refresh.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(23);
DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
SELECT idgraph.ingest_graph('{"source": "manual", "nodes": [{"service_id": "ro-a"}]}');
SELECT idgraph.set_slo('ro-a', 0.999);
CREATE TEMP TABLE ids AS SELECT (idgraph.slo_recommendations('ro-a')->>'recommendation_id')::uuid AS id;
GRANT SELECT ON ids TO PUBLIC;
CREATE TEMP TABLE doc AS SELECT jsonb_build_object('windows', jsonb_build_array(jsonb_build_object(
  'service_id', 'ro-a', 'window', '1h', 'start', to_char((to_timestamp(floor(extract(epoch FROM now()) / 3600) * 3600) - interval '1 hour') AT TIME ZONE 'UTC',
  'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'good_events', 1, 'total_events', 1))) AS d;
GRANT SELECT ON doc TO PUBLIC;

SET LOCAL ROLE idgraph_reader;
SELECT lives_ok($$SELECT idgraph.slo_recommendations('ro-a')$$, 'reader: slo_recommendations');
SELECT lives_ok($$SELECT idgraph.slo_alert_rules('ro-a')$$, 'reader: slo_alert_rules');
SELECT lives_ok($$SELECT idgraph.slo_dashboard('coverage')$$, 'reader: slo_dashboard');
SELECT lives_ok($$SELECT count(*) FROM idgraph.sli_aggregates$$, 'reader: read the SLI history');
SELECT throws_ok($$SELECT idgraph.record_sli((SELECT d FROM doc))$$, '42501', NULL, 'reader: record_sli -> 42501');
SELECT throws_ok($$SELECT idgraph.slo_decide('ro-a', (SELECT id FROM ids), 'accept')$$, '42501', NULL, 'reader: slo_decide -> 42501');
SELECT throws_ok($$SELECT idgraph._slo_compute('ro-a', 'all', 30)$$, '42501', NULL, 'reader: the internal compute -> 42501');
SELECT throws_ok($$INSERT INTO idgraph.sli_aggregates (service_pk, window_size, window_start) VALUES (1, '1h', now())$$, '42501', NULL,
                 'reader: no direct writes');
RESET ROLE;

SET LOCAL ROLE idgraph_writer;
SELECT lives_ok($$SELECT idgraph.record_sli((SELECT d FROM doc))$$, 'writer: record_sli');
SELECT throws_ok($$SELECT idgraph._record_sli_apply('[]')$$, '42501', NULL, 'writer: the unvalidated internal -> 42501');
SELECT lives_ok($$SELECT idgraph.slo_decide('ro-a', (SELECT (idgraph.slo_recommendations('ro-a')->>'recommendation_id')::uuid), 'reject', NULL, NULL, 'no')$$,
                'writer: slo_decide');
SELECT throws_ok($$SELECT idgraph.slo_auto_approval_rule_create('w', '{"teams": ["x"]}')$$, '42501', NULL, 'writer: create a rule -> 42501');
SELECT throws_ok($$SELECT idgraph.slo_auto_approval_rule_enable('w')$$, '42501', NULL, 'writer: enable a rule -> 42501');
SELECT throws_ok($$SELECT idgraph.slo_auto_approval_rule_delete('w')$$, '42501', NULL, 'writer: delete a rule -> 42501');
SELECT throws_ok($$SELECT idgraph.slo_auto_approval_rules()$$, '42501', NULL, 'writer: list rules -> 42501');
SELECT throws_ok($$SELECT count(*) FROM idgraph.slo_auto_approval_rules$$, '42501', NULL, 'writer: read the rules table -> 42501');
SELECT throws_ok($$SELECT idgraph.apply_sli_retention()$$, '42501', NULL, 'writer: retention -> 42501');
SELECT throws_ok($$SELECT idgraph.refresh_slo_dashboard()$$, '42501', NULL, 'writer: dashboard refresh -> 42501');
SELECT throws_ok($$UPDATE idgraph.slo_recommendations SET status = 'expired'$$, '42501', NULL, 'writer: no direct writes to recommendations');
RESET ROLE;

SET LOCAL ROLE idgraph_admin;
SELECT lives_ok($$SELECT idgraph.slo_auto_approval_rule_create('adm', '{"teams": ["x"]}')$$, 'admin: create a rule');
SELECT lives_ok($$SELECT idgraph.slo_auto_approval_rule_enable('adm')$$, 'admin: enable a rule');
SELECT lives_ok($$SELECT idgraph.apply_sli_retention()$$, 'admin: retention');
SELECT lives_ok($$SELECT idgraph.refresh_slo_dashboard()$$, 'admin: refresh the dashboard');
RESET ROLE;
SELECT * FROM finish();
ROLLBACK;
