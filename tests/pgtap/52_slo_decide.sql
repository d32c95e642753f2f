-- Lifecycle (issue 8, TRD FR-5, AC-005/AC-006): accept / modify / reject a stored
-- recommendation into the active SLO with the previous state kept and audited; set_slo
-- shares the tables (source manual); superseded or expired recommendations -> 55000.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(33);

DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
SELECT idgraph.ingest_graph('{"source": "manual", "nodes": [{"service_id": "dec-svc", "availability": 0.9995},
  {"service_id": "dec-other"}]}');
CREATE TEMP TABLE t AS SELECT to_timestamp(floor(extract(epoch FROM now()) / 3600) * 3600) AS e;
SELECT idgraph.record_sli(jsonb_build_object('windows', jsonb_agg(jsonb_build_object(
         'service_id', 'dec-svc', 'window', '1h',
         'start', to_char((t.e - (720 - i) * interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
         'good_events', CASE WHEN i < 3 THEN 9000 WHEN i < 10 THEN 9950 WHEN i < 20 THEN 9990 ELSE 10000 END,
         'total_events', 10000, 'latency_p99_ms', 100 + i))))
  FROM generate_series(0, 719) i, t;
CREATE TEMP TABLE r (step text PRIMARY KEY, v jsonb);
INSERT INTO r VALUES ('rec', idgraph.slo_recommendations('dec-svc'));
CREATE FUNCTION pg_temp.id(p_step text) RETURNS uuid LANGUAGE sql AS $$ SELECT (v->>'recommendation_id')::uuid FROM r WHERE step = p_step $$;

-- accept (balanced: 0.995 and 853 ms)
INSERT INTO r SELECT 'accept', idgraph.slo_decide('dec-svc', pg_temp.id('rec'), 'accept', 'balanced', NULL, 'looks right');
SELECT is((SELECT v->'targets' FROM r WHERE step = 'accept'), '{"availability": 0.995, "latency_p95_ms": null, "latency_p99_ms": 853}',
          'accept: the balanced tier''s targets');
SELECT is((SELECT (v->>'status', v->>'source', v->>'activated_by')::text FROM r WHERE step = 'accept'),
          ('active', 'recommendation_accepted', session_user)::text, 'active, source recommendation_accepted, activated by the session user');
SELECT is((SELECT (availability_target, source, recommendation_id, selected_tier)::text FROM idgraph.slos o JOIN idgraph.services s USING (service_pk) WHERE s.service_id = 'dec-svc'),
          (0.995::float8, 'recommendation_accepted', pg_temp.id('rec'), 'balanced')::text, 'the active SLO');
SELECT is((SELECT (action, actor, rationale, recommendation_id, selected_tier, old_value IS NULL)::text FROM idgraph.slo_audit_log WHERE service_id = 'dec-svc' ORDER BY audit_id DESC LIMIT 1),
          ('accept', session_user, 'looks right', pg_temp.id('rec'), 'balanced', true)::text, 'audited with actor and rationale');
SELECT is((SELECT decision FROM idgraph.slo_recommendations WHERE recommendation_id = pg_temp.id('rec')), 'accepted', 'the recommendation is accepted');
SELECT is((SELECT v->'slo_id' FROM r WHERE step = 'accept'),
          (SELECT to_jsonb(slo_id) FROM idgraph.slos o JOIN idgraph.services s USING (service_pk) WHERE s.service_id = 'dec-svc'), 'slo_id');

-- The accepted SLO bumped the graph version: the next retrieval is a new recommendation.
INSERT INTO r VALUES ('rec2', idgraph.slo_recommendations('dec-svc'));
SELECT isnt(pg_temp.id('rec2'), pg_temp.id('rec'), 'a new SLO invalidates the cache');

-- modify
INSERT INTO r SELECT 'modify', idgraph.slo_decide('dec-svc', pg_temp.id('rec2'), 'modify', 'balanced',
                                                  '{"availability_target": 0.9955, "latency_p99_target_ms": 600, "latency_p95_target_ms": 300}',
                                                  'adding a fallback provider');
SELECT is((SELECT v->'targets' FROM r WHERE step = 'modify'), '{"availability": 0.9955, "latency_p95_ms": 300, "latency_p99_ms": 600}',
          'modify: the modified targets');
SELECT is((SELECT v->'modification_delta'->'availability' FROM r WHERE step = 'modify'),
          '{"recommended": 0.995, "selected": 0.9955, "delta": 0.0005}', 'modification_delta availability');
SELECT is((SELECT v->'modification_delta'->'latency_p99_ms'->'delta' FROM r WHERE step = 'modify'), '-253', 'modification_delta latency');
SELECT is((SELECT v->>'source' FROM r WHERE step = 'modify'), 'recommendation_modified', 'source recommendation_modified');
SELECT is((SELECT v->'previous'->'availability_target' FROM r WHERE step = 'modify'), '0.995', 'the previous state is returned');
SELECT is((SELECT (old_value->>'availability_target', new_value->>'availability_target', modification_delta IS NOT NULL)::text
             FROM idgraph.slo_audit_log WHERE service_id = 'dec-svc' ORDER BY audit_id DESC LIMIT 1),
          '(0.995,0.9955,t)', 'the audit keeps previous and new state and the delta');

-- reject: the rationale is stored, the active SLO unchanged (AC-006)
INSERT INTO r VALUES ('rec3', idgraph.slo_recommendations('dec-svc'));
INSERT INTO r SELECT 'reject', idgraph.slo_decide('dec-svc', pg_temp.id('rec3'), 'reject', 'aggressive', NULL,
                                                  'target too aggressive for upcoming holiday traffic');
SELECT is((SELECT v->>'status' FROM r WHERE step = 'reject'), 'rejected', 'rejected');
SELECT is((SELECT availability_target FROM idgraph.slos o JOIN idgraph.services s USING (service_pk) WHERE s.service_id = 'dec-svc'),
          0.9955::float8, 'a rejection changes no active SLO');
SELECT is((SELECT (action, rationale)::text FROM idgraph.slo_audit_log WHERE service_id = 'dec-svc' ORDER BY audit_id DESC LIMIT 1),
          '(reject,"target too aggressive for upcoming holiday traffic")', 'the rationale is in the audit');
SELECT is((SELECT decision FROM idgraph.slo_recommendations WHERE recommendation_id = pg_temp.id('rec3')), 'rejected',
          'the recommendation''s decision is rejected');
SELECT throws_ok(format($$SELECT idgraph.slo_decide('dec-svc', %L, 'reject')$$, pg_temp.id('rec3')), '22023',
                 'a rejection needs a rationale', 'reject without rationale -> 22023');

-- superseded / expired -> 55000
SELECT throws_ok(format($$SELECT idgraph.slo_decide('dec-svc', %L, 'accept')$$, pg_temp.id('rec')), '55000', NULL,
                 'a superseded recommendation -> 55000');
UPDATE idgraph.slo_recommendations SET expires_at = now() - interval '1 second' WHERE recommendation_id = pg_temp.id('rec3');
SELECT throws_ok(format($$SELECT idgraph.slo_decide('dec-svc', %L, 'accept')$$, pg_temp.id('rec3')), '55000', NULL,
                 'an expired recommendation -> 55000');

-- other errors
INSERT INTO r VALUES ('rec4', idgraph.slo_recommendations('dec-svc', 'all', 30, true));
SELECT throws_ok(format($$SELECT idgraph.slo_decide('dec-svc', %L, 'approve')$$, pg_temp.id('rec4')), '22023', NULL, 'unknown action -> 22023');
SELECT throws_ok(format($$SELECT idgraph.slo_decide('dec-svc', %L, 'accept', 'best')$$, pg_temp.id('rec4')), '22023', NULL, 'unknown tier -> 22023');
SELECT throws_ok(format($$SELECT idgraph.slo_decide('dec-svc', %L, 'accept', NULL, '{"availability_target": 0.9}')$$, pg_temp.id('rec4')),
                 '22023', NULL, 'accept with modifications -> 22023');
SELECT throws_ok(format($$SELECT idgraph.slo_decide('dec-svc', %L, 'modify', NULL, '{}')$$, pg_temp.id('rec4')), '22023', NULL,
                 'modify without modifications -> 22023');
SELECT throws_ok(format($$SELECT idgraph.slo_decide('dec-svc', %L, 'modify', NULL, '{"availability": 0.9}')$$, pg_temp.id('rec4')), '22023',
                 'modifications.availability: unknown field (expected availability_target, latency_p95_target_ms, latency_p99_target_ms)',
                 'an unknown modification -> 22023');
SELECT throws_ok(format($$SELECT idgraph.slo_decide('dec-svc', %L, 'modify', NULL, '{"availability_target": 99.95}')$$, pg_temp.id('rec4')),
                 '22023', NULL, 'a percentage where a fraction belongs -> 22023');
SELECT throws_ok(format($$SELECT idgraph.slo_decide('dec-other', %L, 'accept')$$, pg_temp.id('rec4')), 'P0002', NULL,
                 'another service''s recommendation -> P0002');
SELECT throws_ok($$SELECT idgraph.slo_decide('dec-svc', gen_random_uuid(), 'accept')$$, 'P0002', NULL, 'unknown recommendation -> P0002');
SELECT throws_ok(format($$SELECT idgraph.slo_decide('ghost', %L, 'accept')$$, pg_temp.id('rec4')), 'P0002', NULL, 'unknown service -> P0002');
SELECT throws_ok($$SELECT idgraph.slo_decide('dec-svc', NULL, 'accept')$$, '22004', NULL, 'NULL recommendation -> 22004');

-- set_slo keeps working on the same tables, as a manual SLO.
SELECT idgraph.set_slo('dec-svc', 0.999, NULL, NULL, 'manual override');
SELECT is((SELECT (source, recommendation_id IS NULL, selected_tier IS NULL)::text FROM idgraph.slos o JOIN idgraph.services s USING (service_pk) WHERE s.service_id = 'dec-svc'),
          '(manual,t,t)', 'set_slo: source manual');
SELECT is((idgraph.slo('dec-svc')->'active'->>'source'), 'manual', 'idgraph.slo shows it');
SELECT is((SELECT count(*)::int FROM idgraph.slo_audit_log WHERE service_id = 'dec-svc'), 4, 'accept, modify, reject and set audited');
SELECT * FROM finish();
ROLLBACK;
