-- Composite availability (SPEC §2, FR-3) and achievability, each against a value computed
-- by hand. Floats are compared with a tolerance of 1e-12.
BEGIN;
SET LOCAL client_min_messages = warning;  -- ingest's temp tables say NOTICE on every call
SELECT plan(66);

DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
DELETE FROM idgraph.circular_dependency_alerts;

-- The listings (hard_dependencies, excluded, ...) are the 'full' answer's (p_detail).
-- One document, eight independent topologies (all edges sync + hard unless noted).
SELECT lives_ok($sql$SELECT idgraph.ingest_graph($${"source": "manual",
  "nodes": [
    {"service_id": "a1", "availability": 0.999}, {"service_id": "b1", "availability": 0.99}, {"service_id": "c1", "availability": 0.995},
    {"service_id": "a2", "availability": 0.999}, {"service_id": "b2", "availability": 0.998}, {"service_id": "c2", "availability": 0.997},
    {"service_id": "d2", "availability": 0.99},
    {"service_id": "a3", "availability": 0.999}, {"service_id": "r1", "availability": 0.99}, {"service_id": "r2", "availability": 0.98},
    {"service_id": "a4", "availability": 0.999}, {"service_id": "h4", "availability": 0.99}, {"service_id": "s4", "availability": 0.5},
    {"service_id": "g4", "availability": 0.5}, {"service_id": "q4", "availability": 0.5},
    {"service_id": "a5", "availability": 0.999}, {"service_id": "x5", "availability": 0.99}, {"service_id": "y5", "availability": 0.98},
    {"service_id": "z5", "availability": 0.995},
    {"service_id": "a6", "availability": 0.999}, {"service_id": "e6", "kind": "external", "published_sla": 0.9999},
    {"service_id": "a7", "availability": 0.999}, {"service_id": "e7", "kind": "external", "availability": 0.99995, "published_sla": 0.9999},
    {"service_id": "m0", "availability": 0.999}, {"service_id": "m1"}, {"service_id": "m2", "availability": 0.99},
    {"service_id": "a8", "availability": 0.999}, {"service_id": "b8", "availability": 0.99}, {"service_id": "w8", "availability": 0.5}
  ],
  "edges": [
    {"source": "a1", "target": "b1"}, {"source": "b1", "target": "c1"},
    {"source": "a2", "target": "b2"}, {"source": "a2", "target": "c2"}, {"source": "b2", "target": "d2"}, {"source": "c2", "target": "d2"},
    {"source": "a3", "target": "r1", "attributes": {"redundancy_group": "db"}},
    {"source": "a3", "target": "r2", "attributes": {"redundancy_group": "db"}},
    {"source": "a4", "target": "h4"},
    {"source": "a4", "target": "s4", "attributes": {"criticality": "soft"}},
    {"source": "a4", "target": "g4", "attributes": {"criticality": "degraded"}},
    {"source": "a4", "target": "q4", "attributes": {"communication_mode": "async", "criticality": "hard"}},
    {"source": "a5", "target": "x5"}, {"source": "x5", "target": "y5"}, {"source": "y5", "target": "z5"}, {"source": "z5", "target": "x5"},
    {"source": "a6", "target": "e6"},
    {"source": "a7", "target": "e7"},
    {"source": "m0", "target": "m1"}, {"source": "m1", "target": "m2"},
    {"source": "a8", "target": "b8"}, {"source": "a8", "target": "w8"}
  ]}$$::jsonb)$sql$, 'ingest the test topologies');
-- t00 -> t01 -> ... -> t11, every service at 0.999.
SELECT lives_ok($$SELECT idgraph.ingest_graph(jsonb_build_object('source', 'manual',
    'nodes', (SELECT jsonb_agg(jsonb_build_object('service_id', format('t%s', lpad(g::text, 2, '0')), 'availability', 0.999))
                FROM generate_series(0, 11) g),
    'edges', (SELECT jsonb_agg(jsonb_build_object('source', format('t%s', lpad(g::text, 2, '0')),
                                                  'target', format('t%s', lpad((g + 1)::text, 2, '0'))))
                FROM generate_series(0, 10) g)))$$, 'ingest a 12-service chain');
UPDATE idgraph.edges SET stale = true
 WHERE target_pk = (SELECT service_pk FROM idgraph.services WHERE service_id = 'w8');

CREATE TEMP TABLE c AS
  SELECT s AS root, idgraph.composite_availability(s, NULL, 'full') AS j
    FROM unnest(ARRAY['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'm0', 'm1', 'a8', 't00', 't01', 'c1']) s;
CREATE TEMP TABLE ct AS
  SELECT s AS root, idgraph.composite_availability(s, 0.999, 'full') AS j FROM unnest(ARRAY['a6', 'a7']) s;

-- 1. Serial chain a1 -> b1 -> c1: 0.999 * 0.99 * 0.995 = 0.98406495
SELECT ok(abs((j ->> 'composite_availability')::float8 - 0.999 * 0.99 * 0.995) < 1e-12, 'serial chain: 0.999 x 0.99 x 0.995 = 0.98406495')
  FROM c WHERE root = 'a1';
SELECT is((j ->> 'self_availability')::float8, 0.999::float8, 'serial chain: self availability 0.999') FROM c WHERE root = 'a1';
SELECT is(j ->> 'bottleneck', 'b1', 'serial chain: the bottleneck is b1 (0.99)') FROM c WHERE root = 'a1';
SELECT is((j ->> 'bottleneck_availability')::float8, 0.99::float8, 'serial chain: bottleneck availability 0.99') FROM c WHERE root = 'a1';
SELECT is(j -> 'hard_dependencies', '[{"service_id": "b1", "depth": 1, "availability": 0.99, "source": "observed", "kind": "internal"},
                                      {"service_id": "c1", "depth": 2, "availability": 0.995, "source": "observed", "kind": "internal"}]'::jsonb,
          'serial chain: hard dependencies with depth, availability and its source') FROM c WHERE root = 'a1';
SELECT is(row((j ->> 'truncated')::boolean, (j ->> 'confidence')::float8, j -> 'missing_data', j -> 'excluded', j -> 'supernodes')::text,
          '(f,1,[],[],[])', 'serial chain: not truncated, confidence 1, nothing missing, excluded or contracted') FROM c WHERE root = 'a1';
SELECT is((j ->> 'composite_availability')::float8, 0.995::float8, 'a leaf''s composite is its own availability') FROM c WHERE root = 'c1';
SELECT is(j -> 'bottleneck', 'null'::jsonb, 'a leaf has no bottleneck') FROM c WHERE root = 'c1';

-- 2. Diamond a2 -> {b2, c2} -> d2: d2 counted once: 0.999 * 0.998 * 0.997 * 0.99 = 0.98407088406
SELECT ok(abs((j ->> 'composite_availability')::float8 - 0.999 * 0.998 * 0.997 * 0.99) < 1e-12,
          'diamond: 0.999 x 0.998 x 0.997 x 0.99 = 0.98407088406 (the shared d2 once)') FROM c WHERE root = 'a2';
SELECT ok(abs((j ->> 'composite_availability')::float8 - 0.999 * 0.998 * 0.997 * 0.99 * 0.99) > 1e-4,
          'diamond: not the double-counted 0.999 x 0.998 x 0.997 x 0.99 x 0.99') FROM c WHERE root = 'a2';
SELECT is((SELECT array_agg(d ->> 'service_id' ORDER BY d ->> 'service_id') FROM jsonb_array_elements(j -> 'hard_dependencies') d),
          ARRAY['b2', 'c2', 'd2'], 'diamond: each dependency listed once') FROM c WHERE root = 'a2';
SELECT is((SELECT (d ->> 'depth')::int FROM jsonb_array_elements(j -> 'hard_dependencies') d WHERE d ->> 'service_id' = 'd2'), 2,
          'diamond: d2 at depth 2') FROM c WHERE root = 'a2';

-- 3. Redundancy group db = {r1 0.99, r2 0.98} in parallel: 1 - 0.01 * 0.02 = 0.9998; 0.999 * 0.9998 = 0.9988002
SELECT ok(abs((j ->> 'composite_availability')::float8 - 0.999 * (1 - (1 - 0.99) * (1 - 0.98))) < 1e-12,
          'redundancy group: 0.999 x (1 - (1 - 0.99)(1 - 0.98)) = 0.9988002') FROM c WHERE root = 'a3';
SELECT is(jsonb_array_length(j -> 'redundancy_groups'), 1, 'redundancy group: one group') FROM c WHERE root = 'a3';
SELECT is(row(j #>> '{redundancy_groups,0,parent}', j #>> '{redundancy_groups,0,group}', j #> '{redundancy_groups,0,members}')::text,
          '(a3,db,"[""r1"", ""r2""]")', 'redundancy group: parent, name and members') FROM c WHERE root = 'a3';
SELECT ok(abs((j #>> '{redundancy_groups,0,availability}')::float8 - 0.9998) < 1e-12, 'redundancy group: its availability 0.9998')
  FROM c WHERE root = 'a3';
SELECT is(j ->> 'bottleneck', 'redundancy group ''db'' of a3', 'redundancy group: the group is the bottleneck') FROM c WHERE root = 'a3';

-- 4. a4 -> h4 hard; soft s4, degraded g4, async q4 excluded: 0.999 * 0.99 = 0.98901
SELECT ok(abs((j ->> 'composite_availability')::float8 - 0.999 * 0.99) < 1e-12,
          'soft, degraded and async dependencies excluded: 0.999 x 0.99 = 0.98901') FROM c WHERE root = 'a4';
SELECT results_eq(
  $$SELECT e ->> 'service_id', e ->> 'from', e ->> 'communication_mode', e ->> 'criticality', split_part(e ->> 'reason', ':', 1)
      FROM c, jsonb_array_elements(j -> 'excluded') e WHERE root = 'a4'$$,
  $$VALUES ('g4', 'a4', 'sync', 'degraded', 'degraded dependency'), ('q4', 'a4', 'async', 'hard', 'async dependency'),
           ('s4', 'a4', 'sync', 'soft', 'soft dependency')$$,
  'excluded lists each with its mode, criticality and why');
SELECT is((SELECT array_agg(d ->> 'service_id') FROM jsonb_array_elements(j -> 'hard_dependencies') d), ARRAY['h4'],
          'only the sync + hard dependency is a hard dependency') FROM c WHERE root = 'a4';

-- 5. 3-cycle x5 -> y5 -> z5 -> x5 contracted to its weakest member y5 (0.98): 0.999 * 0.98 = 0.97902
SELECT ok(abs((j ->> 'composite_availability')::float8 - 0.999 * 0.98) < 1e-12,
          '3-cycle contracted to its weakest member: 0.999 x 0.98 = 0.97902') FROM c WHERE root = 'a5';
SELECT is(j -> 'supernodes', '[{"members": ["x5", "y5", "z5"], "availability": 0.98, "weakest": "y5"}]'::jsonb,
          '3-cycle: one supernode, members, availability and weakest member') FROM c WHERE root = 'a5';
SELECT is(j ->> 'bottleneck', 'y5', '3-cycle: the weakest member is the bottleneck') FROM c WHERE root = 'a5';

-- 6. External e6 without observed data, published 0.9999 -> 0.9999 - 0.001 = 0.9989 used.
--    0.999 * 0.9989 = 0.9979011; error-budget share against 0.999: (1 - 0.9989) / (1 - 0.999) = 1.1 > 0.3
SELECT ok(abs((j ->> 'composite_availability')::float8 - 0.999 * 0.9989) < 1e-12,
          'external without observations: published 0.9999 -> 0.9989 used: 0.999 x 0.9989 = 0.9979011') FROM c WHERE root = 'a6';
SELECT ok(abs((j #>> '{external,0,availability_used}')::float8 - 0.9989) < 1e-12, 'external: availability_used 0.9989') FROM c WHERE root = 'a6';
SELECT is(j #>> '{external,0,source}', 'published_sla_adjusted', 'external: its source is the adjusted published SLA') FROM c WHERE root = 'a6';
SELECT is(row(j #> '{external,0,error_budget_share}', j #> '{external,0,high_risk}')::text, '(null,null)',
          'external without a target: no error-budget share') FROM c WHERE root = 'a6';
SELECT ok(abs((j #>> '{external,0,error_budget_share}')::float8 - 1.1) < 1e-9, 'external against 0.999: error-budget share (1 - 0.9989)/(1 - 0.999) = 1.1')
  FROM ct WHERE root = 'a6';
SELECT is((j #>> '{external,0,high_risk}')::boolean, true, 'external: share 1.1 > 0.3 is high risk') FROM ct WHERE root = 'a6';
SELECT is((j ->> 'target')::float8, 0.999::float8, 'the result echoes the target') FROM ct WHERE root = 'a6';
SELECT is(j #>> '{hard_dependencies,0,kind}', 'external', 'the external dependency is marked external') FROM c WHERE root = 'a6';
-- External e7 with observed availability 0.99995 (published 0.9999 ignored): share 0.00005/0.001 = 0.05
SELECT ok(abs((j ->> 'composite_availability')::float8 - 0.999 * 0.99995) < 1e-12,
          'external with observations: observed 0.99995 used, not the published SLA') FROM ct WHERE root = 'a7';
SELECT is(j #>> '{external,0,source}', 'observed', 'external: source observed') FROM ct WHERE root = 'a7';
SELECT ok(abs((j #>> '{external,0,error_budget_share}')::float8 - 0.05) < 1e-9, 'external: share 0.05') FROM ct WHERE root = 'a7';
SELECT is((j #>> '{external,0,high_risk}')::boolean, false, 'external: share 0.05 is not high risk') FROM ct WHERE root = 'a7';

-- 7. Truncation: t00 .. t11 is 11 hops; the closure stops at depth 10 (t10).
--    composite = 0.999^11 (t00..t10), confidence = 1 x 0.8 = 0.8
SELECT is((j ->> 'truncated')::boolean, true, 'depth truncation: truncated = true') FROM c WHERE root = 't00';
SELECT ok(abs((j ->> 'composite_availability')::float8 - power(0.999::float8, 11)) < 1e-12,
          'depth truncation: only t00..t10 counted, 0.999^11') FROM c WHERE root = 't00';
SELECT ok(abs((j ->> 'confidence')::float8 - 0.8) < 1e-12, 'depth truncation: confidence 0.8') FROM c WHERE root = 't00';
SELECT is(row((j ->> 'max_depth')::int, jsonb_array_length(j -> 'hard_dependencies'))::text, '(10,10)',
          'depth truncation: max_depth 10, ten dependencies') FROM c WHERE root = 't00';
SELECT is(row((j ->> 'truncated')::boolean, (j ->> 'confidence')::float8)::text, '(f,1)',
          'one hop further down the whole closure (t01..t11) fits: not truncated') FROM c WHERE root = 't01';

-- 8. Missing data: m1 has no availability -> the default 0.999 is used.
--    0.999 * 0.999 * 0.99 = 0.98802099; confidence = 1 - 0.5 * (1 missing / 3 in closure) = 0.8333...
SELECT ok(abs((j ->> 'composite_availability')::float8 - 0.999 * 0.999 * 0.99) < 1e-12,
          'missing availability: the default 0.999 stands in: 0.98802099') FROM c WHERE root = 'm0';
SELECT is(j -> 'missing_data', '["m1"]', 'missing availability: the result names the service without data') FROM c WHERE root = 'm0';
SELECT ok(abs((j ->> 'confidence')::float8 - (1 - 0.5 / 3)) < 1e-12, 'missing availability: confidence 1 - 0.5 x 1/3 = 0.8333')
  FROM c WHERE root = 'm0';
SELECT is(j #>> '{hard_dependencies,0,source}', 'missing', 'the dependency''s availability source is missing') FROM c WHERE root = 'm0';
SELECT ok(abs((j ->> 'confidence')::float8 - 0.75) < 1e-12, 'its own data missing counts too: 1 - 0.5 x 1/2 = 0.75') FROM c WHERE root = 'm1';

-- 9. Stale dependencies are left out of the math: a8 -> b8 fresh, a8 -> w8 (0.5) stale.
SELECT ok(abs((j ->> 'composite_availability')::float8 - 0.999 * 0.99) < 1e-12, 'a stale dependency is not counted: 0.999 x 0.99')
  FROM c WHERE root = 'a8';

-- The cache follows a change of availability in this transaction.
SELECT lives_ok($$SELECT idgraph.set_availability('b1', 0.9)$$, 'b1 drops to 0.9');
SELECT ok(abs((idgraph.composite_availability('a1') ->> 'composite_availability')::float8 - 0.999 * 0.9 * 0.995) < 1e-12,
          'and the next composite uses it: 0.999 x 0.9 x 0.995');
SELECT lives_ok($$SELECT idgraph.set_availability('b1', 0.99)$$, 'b1 back to 0.99');

-- Achievability (check_slo) -------------------------------------------------------------------
-- a1: bound 0.98406495 < 0.999 -> not achievable; each critical dependency needs 1 - 0.001/10 = 0.9999
CREATE TEMP TABLE k AS SELECT idgraph.check_slo('a1', 0.999) AS j;
SELECT is((j ->> 'achievable')::boolean, false, 'check_slo: 0.999 is not achievable for a1') FROM k;
SELECT ok(abs((j ->> 'bound')::float8 - 0.999 * 0.99 * 0.995) < 1e-12, 'check_slo: the bound is the composite') FROM k;
SELECT ok(abs((j ->> 'dependency_target')::float8 - 0.9999) < 1e-12, 'check_slo: the extra-nine rule asks 0.9999 of each dependency') FROM k;
SELECT is((SELECT array_agg(d ->> 'service_id' ORDER BY d ->> 'service_id') FROM jsonb_array_elements(j -> 'dependencies_below') d),
          ARRAY['b1', 'c1'], 'check_slo: both dependencies fall short of it') FROM k;
SELECT is(j #> '{dependencies_below,0}', '{"service_id": "b1", "current": 0.99, "needed": 0.9999}', 'check_slo: current and needed per dependency') FROM k;
SELECT is(j ->> 'message',
          'The desired target of 99.9% is unachievable. Composite availability bound is 98.4065% given current dependency chain. To achieve 99.9%, each critical dependency must be at least 99.99% (the 10x rule).',
          'check_slo: the FR-3 message') FROM k;
SELECT is((idgraph.check_slo('a1', 0.98) ->> 'achievable')::boolean, true, 'check_slo: 0.98 is achievable for a1');
SELECT is(idgraph.check_slo('a1', 0.98) ->> 'message',
          'The target of 98% is achievable: the composite availability bound is 98.4065% given the current dependency chain.',
          'check_slo: the achievable message');

-- Errors ----------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT idgraph.composite_availability('no-such-service')$$, 'P0002', NULL, 'composite_availability: unknown service -> P0002');
SELECT throws_ok($$SELECT idgraph.composite_availability('a1', 1.0)$$, '22023', NULL, 'composite_availability: target 1 -> 22023');
SELECT throws_ok($$SELECT idgraph.composite_availability('a1', 99.9)$$, '22023', NULL, 'composite_availability: a percentage target -> 22023');
SELECT throws_ok($$SELECT idgraph.check_slo('no-such-service', 0.99)$$, 'P0002', NULL, 'check_slo: unknown service -> P0002');
SELECT throws_ok($$SELECT idgraph.check_slo('a1', 0)$$, '22023', NULL, 'check_slo: target 0 -> 22023');
SELECT throws_ok($$SELECT idgraph.check_slo('a1', 1.5)$$, '22023', NULL, 'check_slo: target 1.5 -> 22023');
SELECT throws_ok($$SELECT idgraph.check_slo('a1', 'NaN')$$, '22023', NULL, 'check_slo: NaN -> 22023');

SELECT * FROM finish();
ROLLBACK;
