-- Auto-approval (issue 8, TRD FR-11, AC-011): admin-only rules, evaluated when a
-- recommendation is generated; a match is accepted with audit action auto_approve; a
-- manual SLO is never overridden.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(20);

DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
DELETE FROM idgraph.slo_auto_approval_rules;
SELECT idgraph.ingest_graph('{"source": "manual", "nodes": [
  {"service_id": "aa-low", "availability": 0.9995, "criticality": "low", "team": "search"},
  {"service_id": "aa-crit", "availability": 0.9995, "criticality": "critical", "team": "search"},
  {"service_id": "aa-manual", "availability": 0.9995, "criticality": "low", "team": "search"}]}');
CREATE TEMP TABLE t AS SELECT to_timestamp(floor(extract(epoch FROM now()) / 3600) * 3600) AS e;
SELECT idgraph.record_sli(jsonb_build_object('windows', jsonb_agg(jsonb_build_object(
         'service_id', s, 'window', '1h',
         'start', to_char((t.e - (720 - i) * interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
         'good_events', CASE WHEN i < 10 THEN 9950 ELSE 10000 END, 'total_events', 10000, 'latency_p99_ms', 100 + i % 50))))
  FROM generate_series(0, 719) i, t, unnest(ARRAY['aa-low', 'aa-crit', 'aa-manual']) s;

-- Rule management and validation.
SELECT is(idgraph.slo_auto_approval_rule_create('low-crit', '{"criticality": ["low", "medium"], "confidence_min": 0.5, "tier": "conservative"}')->'enabled',
          'false', 'a rule is created disabled');
SELECT throws_ok($$SELECT idgraph.slo_auto_approval_rule_create('low-crit', '{"criticality": ["low"]}')$$, '23505', NULL, 'duplicate name -> 23505');
SELECT throws_ok($$SELECT idgraph.slo_auto_approval_rule_create('x', '{"criticality": ["tiny"]}')$$, '22023', NULL, 'bad criticality -> 22023');
SELECT throws_ok($$SELECT idgraph.slo_auto_approval_rule_create('x', '{"tier": "balanced"}')$$, '22023', NULL, 'a rule must select something');
SELECT throws_ok($$SELECT idgraph.slo_auto_approval_rule_create('x', '{"teams": ["a"], "colour": 1}')$$, '22023', NULL, 'unknown condition -> 22023');
SELECT throws_ok($$SELECT idgraph.slo_auto_approval_rule_create('x', '{"confidence_min": 2}')$$, '22023', NULL, 'confidence_min over 1 -> 22023');
SELECT throws_ok($$SELECT idgraph.slo_auto_approval_rule_enable('nope')$$, 'P0002', NULL, 'enabling an unknown rule -> P0002');

-- Disabled: nothing happens.
SELECT is(idgraph.slo_recommendations('aa-low')->'auto_approval', 'null', 'a disabled rule does not approve');
SELECT is((SELECT count(*)::int FROM idgraph.slos), 0, 'no SLO');

SELECT is(idgraph.slo_auto_approval_rule_enable('low-crit')->'enabled', 'true', 'enabled');
SELECT idgraph.set_slo('aa-manual', 0.99, NULL, NULL, 'chosen by hand');
CREATE TEMP TABLE r (step text PRIMARY KEY, v jsonb);
INSERT INTO r VALUES ('low', idgraph.slo_recommendations('aa-low', 'all', 30, true)),
                     ('crit', idgraph.slo_recommendations('aa-crit', 'all', 30, true)),
                     ('manual', idgraph.slo_recommendations('aa-manual', 'all', 30, true));
SELECT is((SELECT v->'auto_approval'->>'rule' FROM r WHERE step = 'low'), 'low-crit', 'a matching recommendation is auto-approved');
SELECT is((SELECT (o.source, o.selected_tier, o.availability_target)::text FROM idgraph.slos o JOIN idgraph.services s USING (service_pk) WHERE s.service_id = 'aa-low'),
          (SELECT ('recommendation_accepted', 'conservative', (x->'tiers'->'conservative'->>'target')::float8)::text
             FROM r, jsonb_array_elements(r.v->'recommendations') x WHERE r.step = 'low' AND x->>'sli_type' = 'availability'),
          'the rule''s tier became the active SLO');
SELECT is((SELECT (action, actor, recommendation_id::text)::text FROM idgraph.slo_audit_log WHERE service_id = 'aa-low' ORDER BY audit_id DESC LIMIT 1),
          (SELECT ('auto_approve', 'auto-approval rule low-crit', v->>'recommendation_id')::text FROM r WHERE step = 'low'),
          'audit action auto_approve');
SELECT is((SELECT decision FROM idgraph.slo_recommendations WHERE recommendation_id = (SELECT (v->>'recommendation_id')::uuid FROM r WHERE step = 'low')),
          'auto_approved', 'the recommendation''s decision');
SELECT is((SELECT v->'auto_approval' FROM r WHERE step = 'crit'), 'null', 'a critical service does not match');
SELECT is((SELECT source FROM idgraph.slos o JOIN idgraph.services s USING (service_pk) WHERE s.service_id = 'aa-manual'), 'manual',
          'a manual SLO is never overridden');
-- The auto-approved recommendation is served from the store next time (our own SLO change
-- does not invalidate it), and nothing is approved twice.
SELECT is(idgraph.slo_recommendations('aa-low')->'cached', 'true', 'served from the store after auto-approval');
SELECT is((SELECT count(*)::int FROM idgraph.slo_audit_log WHERE service_id = 'aa-low'), 1, 'one approval');
SELECT ok(idgraph.slo_auto_approval_rule_delete('low-crit'), 'deleted');
SELECT is(idgraph.slo_auto_approval_rules(), '[]', 'no rules left');
SELECT * FROM finish();
ROLLBACK;
