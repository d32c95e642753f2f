-- Recommendations (issue 8, TRD FR-2/FR-7): hand-computed tiers, budgets, breach
-- probabilities and attribution through SQL; the cache (served until forced, expired,
-- the graph changed or the data moved > 5%; stale: true when nothing fresher exists);
-- cold start; parameter errors.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(48);

DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
SELECT idgraph.ingest_graph('{"source": "manual", "nodes": [
   {"service_id": "rec-svc", "availability": 0.9995, "team": "payments", "criticality": "low"},
   {"service_id": "rec-dep", "availability": 0.999},
   {"service_id": "rec-ext", "kind": "external", "published_sla": 0.9999},
   {"service_id": "rec-new", "metadata": {"type": "api-gateway"}},
   {"service_id": "rec-young"}],
  "edges": [{"source": "rec-svc", "target": "rec-dep"}, {"source": "rec-svc", "target": "rec-ext"}]}');

-- 720 hourly windows ending at the start of this hour: 3 at 0.9, 7 at 0.995, 10 at 0.999,
-- 700 at 1.0 (10,000 events each); window p99 latency 100..819 ms.
CREATE TEMP TABLE t AS SELECT to_timestamp(floor(extract(epoch FROM now()) / 3600) * 3600) AS e;
CREATE FUNCTION pg_temp.ts(p timestamptz) RETURNS text LANGUAGE sql AS
  $$ SELECT to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;
CREATE FUNCTION pg_temp.windows(p_service text, p_n integer) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('windows', jsonb_agg(jsonb_build_object(
           'service_id', p_service, 'window', '1h', 'start', pg_temp.ts(t.e - (p_n - i) * interval '1 hour'),
           'good_events', CASE WHEN i < 3 THEN 9000 WHEN i < 10 THEN 9950 WHEN i < 20 THEN 9990 ELSE 10000 END,
           'total_events', 10000, 'latency_p99_ms', 100 + i)))
    FROM generate_series(0, p_n - 1) i, t $$;
SELECT idgraph.record_sli(pg_temp.windows('rec-svc', 720));
CREATE TEMP TABLE r (step text PRIMARY KEY, v jsonb);
INSERT INTO r VALUES ('first', idgraph.slo_recommendations('rec-svc'));
CREATE FUNCTION pg_temp.tier(p_step text, p_type text, p_tier text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT x->'tiers'->p_tier FROM r, jsonb_array_elements(r.v->'recommendations') x
   WHERE r.step = p_step AND x->>'sli_type' = p_type $$;
CREATE FUNCTION pg_temp.rec(p_step text, p_type text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT x FROM r, jsonb_array_elements(r.v->'recommendations') x WHERE r.step = p_step AND x->>'sli_type' = p_type $$;

-- Availability: n = 720, Q(p) at h = 719p. Q(0.001) = 0.9; Q(0.01) = 0.995 (x[7] = x[8]),
-- under the bound B = 0.999 x (0.9999 - 0.001) = 0.9979011; Q(0.05) = 1.0 -> 0.99999.
SELECT is(pg_temp.tier('first', 'availability', 'conservative')->'target', '0.9', 'conservative = Q(0.001)');
SELECT is(pg_temp.tier('first', 'availability', 'balanced')->'target', '0.995', 'balanced = Q(0.01), under the composite bound');
SELECT is(pg_temp.tier('first', 'availability', 'aggressive')->'target', '0.99999', 'aggressive = Q(0.05), at most 0.99999');
SELECT is(pg_temp.tier('first', 'availability', 'conservative')->'error_budget_monthly_minutes', '4383.0', '(1 - 0.9) x 43,830');
SELECT is(pg_temp.tier('first', 'availability', 'balanced')->'error_budget_monthly_minutes', '219.15', '(1 - 0.995) x 43,830');
SELECT is(pg_temp.tier('first', 'availability', 'aggressive')->'error_budget_monthly_minutes', '0.44', '(1 - 0.99999) x 43,830, rounded');
SELECT is(pg_temp.tier('first', 'availability', 'conservative')->'estimated_breach_probability', '0.0', 'no window below 0.9');
SELECT is(pg_temp.tier('first', 'availability', 'balanced')->'estimated_breach_probability', '0.0042', '3 of 720 windows below 0.995');
SELECT is(pg_temp.tier('first', 'availability', 'aggressive')->'estimated_breach_probability', '0.0278', '20 of 720 windows below 0.99999');
SELECT is(jsonb_array_length(pg_temp.tier('first', 'availability', 'balanced')->'confidence_interval'), 2, 'a confidence interval');
SELECT ok((pg_temp.tier('first', 'availability', 'balanced')->'confidence_interval'->>0)::float8
          <= (pg_temp.tier('first', 'availability', 'balanced')->'confidence_interval'->>1)::float8, 'lower <= upper');
SELECT ok(abs((pg_temp.rec('first', 'availability')->'explanation'->'dependency_impact'->>'composite_availability_bound')::float8
              - 0.999 * 0.9989) < 1e-12, 'the bound is the hard dependencies'' composite');
SELECT is(pg_temp.rec('first', 'availability')->'explanation'->'dependency_impact'->>'bottleneck_service', 'rec-ext',
          'the bottleneck');
SELECT is(pg_temp.rec('first', 'availability')->'explanation'->'dependency_impact'->'bottleneck'->'error_budget_share', '0.22',
          '(1 - 0.9989) / (1 - 0.995)');
-- Attribution of L = -ln 0.995: externals -ln 0.9989 / L = 0.2196, internal -ln 0.999 / L = 0.1996, own the rest.
SELECT is(pg_temp.rec('first', 'availability')->'explanation'->'feature_attribution',
          '[{"feature": "historical_availability", "contribution": 0.5808},
            {"feature": "external_dependencies", "contribution": 0.2196},
            {"feature": "hard_dependencies_composite_bound", "contribution": 0.1996},
            {"feature": "data_completeness", "contribution": 0.0}]', 'attribution by hand, summing to 1');
SELECT is(pg_temp.rec('first', 'availability')->'explanation'->'counterfactuals'->1->>'result',
          'Balanced target would decrease to 98.801%', 'rec-ext one nine worse: 0.999 x 0.989');
SELECT is(pg_temp.rec('first', 'availability')->'explanation'->'counterfactuals'->0->>'result',
          'Balanced target would stay at 99.5%', 'one nine better: own history is the limit');
-- Latency over p99s 100..819: Q(0.999) = 818.281 x 1.05 -> 860; Q(0.99) = 811.81 x 1.05 -> 853;
-- Q(0.95) = 783.05 -> 784; 35 windows (785..819) above 784.
SELECT is(pg_temp.tier('first', 'latency', 'conservative'), '{"target_ms": 860.0, "percentile": "p99.9", "estimated_breach_probability": 0.0}', 'latency conservative');
SELECT is(pg_temp.tier('first', 'latency', 'balanced'), '{"target_ms": 853.0, "percentile": "p99", "estimated_breach_probability": 0.0}', 'latency balanced');
SELECT is(pg_temp.tier('first', 'latency', 'aggressive'), '{"target_ms": 784.0, "percentile": "p95", "estimated_breach_probability": 0.0486}', 'latency aggressive');
SELECT is((SELECT v->'data_quality'->'data_completeness' FROM r WHERE step = 'first'), '1.0', 'complete data');
SELECT is((SELECT v->'data_quality'->'telemetry_gaps' FROM r WHERE step = 'first'), '[]', 'no gaps');
SELECT is((SELECT (v->>'cached', v->>'stale', v->>'status')::text FROM r WHERE step = 'first'), '(false,false,active)', 'fresh, active');
SELECT is((SELECT v->'lookback_window'->>'end' FROM r, t WHERE step = 'first'), (SELECT pg_temp.ts(e) FROM t), 'the lookback ends at this hour');

-- The cache.
INSERT INTO r VALUES ('second', idgraph.slo_recommendations('rec-svc'));
SELECT is((SELECT v->>'recommendation_id' FROM r WHERE step = 'second'), (SELECT v->>'recommendation_id' FROM r WHERE step = 'first'),
          'served from the store');
SELECT is((SELECT v->'cached' FROM r WHERE step = 'second'), 'true', 'cached: true');
INSERT INTO r VALUES ('forced', idgraph.slo_recommendations('rec-svc', 'all', 30, true));
SELECT isnt((SELECT v->>'recommendation_id' FROM r WHERE step = 'forced'), (SELECT v->>'recommendation_id' FROM r WHERE step = 'first'),
            'forced: a new one');
SELECT is((SELECT status FROM idgraph.slo_recommendations WHERE recommendation_id = (SELECT (v->>'recommendation_id')::uuid FROM r WHERE step = 'first')),
          'superseded', 'the previous one is superseded');
SELECT is((SELECT v->'recommendations' FROM r WHERE step = 'forced'), (SELECT v->'recommendations' FROM r WHERE step = 'first'),
          'the same data gives the same answer (seeded bootstrap)');
-- A graph change invalidates.
SELECT idgraph.set_availability('rec-dep', 0.9991);
INSERT INTO r VALUES ('graph', idgraph.slo_recommendations('rec-svc'));
SELECT is((SELECT v->'cached' FROM r WHERE step = 'graph'), 'false', 'the graph changed: recomputed');
-- A small data change is served from the store; a move over 5% recomputes.
SELECT idgraph.record_sli(jsonb_build_object('windows', jsonb_build_array(jsonb_build_object('service_id', 'rec-svc', 'window', '1h',
         'start', pg_temp.ts(e - interval '100 hours'), 'good_events', 9999, 'total_events', 10000, 'latency_p99_ms', 100 + 620)))) FROM t;
INSERT INTO r VALUES ('small', idgraph.slo_recommendations('rec-svc'));
SELECT is((SELECT v->'cached' FROM r WHERE step = 'small'), 'true', 'a change under 5% is served from the store');
SELECT idgraph.record_sli(jsonb_build_object('windows', jsonb_build_array(jsonb_build_object('service_id', 'rec-svc', 'window', '1h',
         'start', pg_temp.ts(e - interval '101 hours'), 'good_events', 5000, 'total_events', 10000, 'latency_p99_ms', 100 + 619)))) FROM t;
INSERT INTO r VALUES ('moved', idgraph.slo_recommendations('rec-svc'));
SELECT is((SELECT v->'cached' FROM r WHERE step = 'moved'), 'false', 'the error ratio moved > 5%: recomputed');
-- Expired with no SLI data since: served, stale. (Pretend a day went by.)
UPDATE idgraph.slo_recommendations SET expires_at = now() - interval '1 second', generated_at = generated_at - interval '1 day'
 WHERE recommendation_id = (SELECT (v->>'recommendation_id')::uuid FROM r WHERE step = 'moved');
INSERT INTO r VALUES ('stale', idgraph.slo_recommendations('rec-svc'));
SELECT is((SELECT (v->>'cached', v->>'stale', v->>'status')::text FROM r WHERE step = 'stale'), '(true,true,expired)',
          'expired and no new data: the stored one, stale: true');
SELECT is((SELECT v->>'recommendation_id' FROM r WHERE step = 'stale'), (SELECT v->>'recommendation_id' FROM r WHERE step = 'moved'),
          'the same recommendation');
-- New data arrives: a fresh one.
UPDATE idgraph.sli_aggregates SET recorded_at = now() + interval '1 second'
 WHERE window_start = (SELECT e - interval '1 hour' FROM t);
INSERT INTO r VALUES ('refreshed', idgraph.slo_recommendations('rec-svc'));
SELECT is((SELECT (v->>'cached', v->>'stale')::text FROM r WHERE step = 'refreshed'), '(false,false)', 'new data: recomputed');

-- Cold start: 10 days of data -> lookback 90 days, history, low confidence; 3 days -> archetype.
SELECT idgraph.record_sli(pg_temp.windows('rec-young', 240));
INSERT INTO r VALUES ('young', idgraph.slo_recommendations('rec-young', 'availability'));
SELECT is((SELECT v->'lookback_window'->'days' FROM r WHERE step = 'young'), '90', 'cold start: lookback extended to 90 days');
SELECT is((SELECT v->'data_quality'->'cold_start' FROM r WHERE step = 'young'), 'true', 'flagged as a cold start');
SELECT is(pg_temp.rec('young', 'availability')->>'basis', 'history', '10 days of windows are history');
SELECT idgraph.record_sli(pg_temp.windows('rec-new', 72));
INSERT INTO r VALUES ('new', idgraph.slo_recommendations('rec-new'));
SELECT is(pg_temp.tier('new', 'availability', 'balanced')->'target', '0.9995', 'too little data: the gateway archetype (99.95%)');
SELECT is(pg_temp.tier('new', 'latency', 'balanced')->'target_ms', '200.0', 'gateway latency baseline 200 ms');
SELECT ok((SELECT (v->>'confidence')::float8 <= 0.3 FROM r WHERE step = 'new'), 'archetype: low confidence');

-- A read-only transaction (a standby): the stored one, marked stale when it would be
-- refreshed; without one, a computation that is not stored.
SET LOCAL transaction_read_only = on;
SELECT is(idgraph.slo_recommendations('rec-svc', 'all', 30, true)->>'recommendation_id',
          (SELECT v->>'recommendation_id' FROM r WHERE step = 'refreshed'), 'read-only: the stored one');
SELECT is(idgraph.slo_recommendations('rec-svc', 'all', 30, true)->'stale', 'true', 'read-only and forced: stale');
SELECT is(idgraph.slo_recommendations('rec-svc', 'availability', 45)->'stored', 'false', 'read-only, nothing stored: computed, not stored');

-- Errors.
SELECT throws_ok($$SELECT idgraph.slo_recommendations('rec-svc', 'all', 6)$$, '22023',
                 'lookback_days must be between 7 and 365, got 6', 'lookback 6 -> 22023');
SELECT throws_ok($$SELECT idgraph.slo_recommendations('rec-svc', 'all', 366)$$, '22023', NULL, 'lookback 366 -> 22023');
SELECT throws_ok($$SELECT idgraph.slo_recommendations('rec-svc', 'throughput')$$, '22023', NULL, 'unknown sli_type -> 22023');
SELECT throws_ok($$SELECT idgraph.slo_recommendations('nobody')$$, 'P0002', NULL, 'unknown service -> P0002');
SELECT * FROM finish();
ROLLBACK;
