-- Dependency traversal (SPEC §2): downstream / upstream / both, depth 1..10, each service
-- once at its shortest depth with its parent edge and path, cycle-safe, stale and external
-- edges per flags; cycles().
BEGIN;
SET LOCAL client_min_messages = warning;  -- ingest's temp tables say NOTICE on every call
SELECT plan(36);

DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
DELETE FROM idgraph.circular_dependency_alerts;

-- The topology (all sync + hard, manual):
--
--   up2 -> up1 -> root -> a -> b -> c -> f        root -> b (shortcut)   root -> d
--                         a -> x (external)       root -> s (stale: last observed in 2020)
--   p -> q -> r -> p (a 3-cycle), q -> t
--   l00 -> l01 -> ... -> l11 (11 hops)
SELECT lives_ok($sql$SELECT idgraph.ingest_graph($${"source": "manual",
  "nodes": [{"service_id": "x", "kind": "external", "published_sla": 0.9999}],
  "edges": [{"source": "up2", "target": "up1"}, {"source": "up1", "target": "root"},
            {"source": "root", "target": "a"}, {"source": "a", "target": "b"}, {"source": "b", "target": "c"},
            {"source": "c", "target": "f"}, {"source": "root", "target": "b"}, {"source": "root", "target": "d"},
            {"source": "a", "target": "x"},
            {"source": "p", "target": "q"}, {"source": "q", "target": "r"}, {"source": "r", "target": "p"},
            {"source": "q", "target": "t"}]}$$::jsonb)$sql$, 'ingest the topology');
SELECT lives_ok($$SELECT idgraph.ingest_graph(jsonb_build_object('source', 'manual', 'edges',
                    (SELECT jsonb_agg(jsonb_build_object('source', format('l%s', lpad(g::text, 2, '0')),
                                                         'target', format('l%s', lpad((g + 1)::text, 2, '0'))))
                       FROM generate_series(0, 10) g)))$$, 'ingest an 11-hop chain');
SELECT lives_ok($$SELECT idgraph.ingest_graph('{"source": "manual", "timestamp": "2020-01-01T00:00:00Z",
                    "edges": [{"source": "root", "target": "s"}]}')$$, 'ingest an edge last observed in 2020');
SELECT is(idgraph.mark_stale('7 days'), 1, 'mark_stale marks the one edge not observed within 7 days');
SELECT is(idgraph.mark_stale('7 days'), 0, 'and is idempotent');
SELECT is((SELECT count(*)::int FROM idgraph.effective_edges WHERE stale), 1, 'the stale edge is kept, flagged stale');

-- Downstream ------------------------------------------------------------------------------
-- Depth 1: a, b (shortcut), d.  Depth 2: c (via b), x (via a).  Depth 3: f.  s is stale.
SELECT results_eq(
  $$SELECT service_id, depth, parent, path FROM idgraph.dependencies('root') ORDER BY depth, service_id$$,
  $$VALUES ('a', 1, 'root', ARRAY['root', 'a']), ('b', 1, 'root', ARRAY['root', 'b']), ('d', 1, 'root', ARRAY['root', 'd']),
           ('c', 2, 'b', ARRAY['root', 'b', 'c']), ('x', 2, 'a', ARRAY['root', 'a', 'x']),
           ('f', 3, 'c', ARRAY['root', 'b', 'c', 'f'])$$,
  'downstream, default depth 3: each service once, at its shortest depth, with parent and path');
SELECT results_eq(
  $$SELECT DISTINCT communication_mode, criticality, discovery_source FROM idgraph.dependencies('root')$$,
  $$VALUES ('sync', 'hard', 'manual')$$,
  'each row carries the attributes of the edge that reached it');
SELECT set_eq($$SELECT service_id FROM idgraph.dependencies('root', 'downstream', 1)$$, ARRAY['a', 'b', 'd'], 'depth 1: direct dependencies only');
SELECT set_eq($$SELECT service_id FROM idgraph.dependencies('root', 'downstream', 3, true)$$, ARRAY['a', 'b', 'd', 'c', 'x', 'f', 's'],
              'include_stale: the stale dependency is reported');
SELECT is((SELECT depth FROM idgraph.dependencies('root', 'downstream', 3, true) WHERE service_id = 's'), 1, 'at depth 1');
SELECT set_eq($$SELECT service_id FROM idgraph.dependencies('root', 'downstream', 3, false, false)$$, ARRAY['a', 'b', 'd', 'c', 'f'],
              'include_external = false: the external service is left out');
SELECT is((SELECT count(*)::int FROM idgraph.dependencies('f')), 0, 'a leaf has no dependencies');

-- Upstream and both --------------------------------------------------------------------------
SELECT results_eq(
  $$SELECT service_id, depth, parent FROM idgraph.dependencies('c', 'upstream', 3) ORDER BY depth, service_id$$,
  $$VALUES ('b', 1, 'c'), ('a', 2, 'b'), ('root', 2, 'b'), ('up1', 3, 'root')$$,
  'upstream from c: who depends on it, transitively');
SELECT is((SELECT path FROM idgraph.dependencies('c', 'upstream', 4) WHERE service_id = 'up2'), ARRAY['c', 'b', 'root', 'up1', 'up2'],
          'upstream depth 4 reaches up2, with the path walked');
SELECT set_eq($$SELECT service_id FROM idgraph.dependencies('a', 'both', 1)$$, ARRAY['root', 'b', 'x'], 'both, depth 1: dependents and dependencies');
SELECT results_eq(
  $$SELECT service_id, depth FROM idgraph.dependencies('a', 'both', 2) WHERE depth = 2 ORDER BY service_id$$,
  $$VALUES ('c', 2), ('d', 2), ('up1', 2)$$,
  'both, depth 2: the walk goes both ways at every step');

-- Depth limits ---------------------------------------------------------------------------------
SELECT is((SELECT count(*)::int FROM idgraph.dependencies('l00', 'downstream', 10)), 10, 'depth 10 (the maximum) reaches 10 hops');
SELECT is((SELECT max(depth) FROM idgraph.dependencies('l00', 'downstream', 10)), 10, 'the deepest at depth 10');
SELECT is_empty($$SELECT 1 FROM idgraph.dependencies('l00', 'downstream', 10) WHERE service_id = 'l11'$$, 'the 11th hop is not reached');
SELECT throws_ok($$SELECT * FROM idgraph.dependencies('l00', 'downstream', 11)$$, '22023', NULL, 'depth 11 -> 22023');
SELECT throws_ok($$SELECT * FROM idgraph.dependencies('l00', 'downstream', 0)$$, '22023', NULL, 'depth 0 -> 22023');
SELECT throws_ok($$SELECT * FROM idgraph.dependencies('l00', 'downstream', -1)$$, '22023', NULL, 'depth -1 -> 22023');
SELECT throws_ok($$SELECT * FROM idgraph.dependencies('l00', 'sideways', 3)$$, '22023', NULL, 'unknown direction -> 22023');
SELECT throws_ok($$SELECT * FROM idgraph.dependencies('no-such-service')$$, 'P0002', NULL, 'unknown service -> P0002');
SELECT is_empty($$SELECT * FROM idgraph.dependencies(NULL)$$, 'dependencies(NULL) returns nothing (strict)');

-- Cycles ------------------------------------------------------------------------------------------
SELECT results_eq(
  $$SELECT service_id, depth FROM idgraph.dependencies('p', 'downstream', 10) ORDER BY depth, service_id$$,
  $$VALUES ('q', 1), ('r', 2), ('t', 2)$$,
  'traversal is cycle-safe: around p -> q -> r -> p each service once, the start not repeated');
SELECT results_eq($$SELECT members, cycle_path, size FROM idgraph.cycles()$$,
                  $$VALUES (ARRAY['p', 'q', 'r'], ARRAY['p', 'q', 'r', 'p'], 3)$$,
                  'cycles(): the one SCC, with a closed path');
SELECT results_eq($$SELECT members, status FROM idgraph.circular_dependency_alerts$$,
                  $$VALUES (ARRAY['p', 'q', 'r'], 'open')$$, 'and its open alert');

-- The cache follows changes made in this session ------------------------------------------------
DELETE FROM idgraph.edges WHERE source_pk = (SELECT service_pk FROM idgraph.services WHERE service_id = 'root')
                            AND target_pk = (SELECT service_pk FROM idgraph.services WHERE service_id = 'd');
SELECT set_eq($$SELECT service_id FROM idgraph.dependencies('root', 'downstream', 1)$$, ARRAY['a', 'b'],
              'an edge deleted directly is gone from the next traversal');
UPDATE idgraph.edges SET stale = true WHERE target_pk = (SELECT service_pk FROM idgraph.services WHERE service_id = 'p');
SELECT is_empty($$SELECT * FROM idgraph.cycles()$$, 'cycles() skips stale edges');
SELECT is((SELECT count(*)::int FROM idgraph.dependencies('p', 'downstream', 10)), 3, 'p -> q -> r, t still reached');
SELECT is((SELECT count(*)::int FROM idgraph.dependencies('r', 'downstream', 10)), 0, 'but not past the stale r -> p');
-- Re-observing a stale edge makes it fresh again.
SELECT lives_ok($$SELECT idgraph.ingest_graph('{"source": "manual", "edges": [{"source": "root", "target": "s"}]}')$$, 're-observe root -> s');
SELECT is((SELECT stale FROM idgraph.effective_edges WHERE source_id = 'root' AND target_id = 's'), false, 'a re-observed edge is fresh again');
SELECT throws_ok($$SELECT idgraph.mark_stale('-1 day')$$, '22023', NULL, 'mark_stale: negative window -> 22023');

SELECT * FROM finish();
ROLLBACK;
