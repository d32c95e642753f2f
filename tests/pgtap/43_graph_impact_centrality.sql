-- Active SLOs and their append-only history, impact analysis (FR-4) on a known topology,
-- and centrality (SPEC §3) with hand-checked values and staleness after an edge change.
BEGIN;
SET LOCAL client_min_messages = warning;  -- ingest's temp tables say NOTICE on every call
SELECT plan(76);

DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
DELETE FROM idgraph.circular_dependency_alerts;

-- Topology (sync + hard unless noted):
--   web (0.999) -> gateway (0.9999) -> checkout (0.999) -> payment (0.9995)
--   orders (0.998) -> payment          reports (0.999) -> payment [soft]
--   unrelated (0.99) -> other (0.99)
SELECT lives_ok($sql$SELECT idgraph.ingest_graph($${"source": "manual",
  "nodes": [{"service_id": "web", "availability": 0.999}, {"service_id": "gateway", "availability": 0.9999},
            {"service_id": "checkout", "availability": 0.999}, {"service_id": "payment", "availability": 0.9995},
            {"service_id": "orders", "availability": 0.998}, {"service_id": "reports", "availability": 0.999},
            {"service_id": "unrelated", "availability": 0.99}, {"service_id": "other", "availability": 0.99}],
  "edges": [{"source": "web", "target": "gateway"}, {"source": "gateway", "target": "checkout"},
            {"source": "checkout", "target": "payment"}, {"source": "orders", "target": "payment"},
            {"source": "reports", "target": "payment", "attributes": {"criticality": "soft"}},
            {"source": "unrelated", "target": "other"}]}$$::jsonb)$sql$, 'ingest the impact topology');

-- SLOs --------------------------------------------------------------------------------------
-- slo_audit_log outlives the services (it is append-only): count only what this file adds.
SELECT count(*) FILTER (WHERE service_id = 'checkout') AS pre_checkout,
       count(*) FILTER (WHERE service_id IN ('checkout', 'gateway')) AS pre_cg,
       count(*) FILTER (WHERE service_id = 'orders') AS pre_orders
  FROM idgraph.slo_audit_log \gset
SELECT is(idgraph.set_slo('checkout', 0.997, 300, 800, 'first cut', 'alice') - ARRAY['updated_at', 'slo_id', 'activated_at'],
          jsonb_build_object('service_id', 'checkout', 'availability_target', 0.997, 'latency_p95_ms', 300,
            'latency_p99_ms', 800, 'set_by', session_user, 'rationale', 'first cut', 'source', 'manual',
            'recommendation_id', NULL, 'selected_tier', NULL),
          'set_slo returns the active SLO, set_by who really acted (not the p_actor claim)');
SELECT lives_ok($$SELECT idgraph.set_slo('checkout', 0.998, 250, 700, 'Q4 review', 'bob')$$, 'set_slo again (a change)');
SELECT lives_ok($$SELECT idgraph.set_slo('gateway', 0.99)$$, 'set_slo with only an availability target');
SELECT is(idgraph.slo('checkout') #>> '{active,availability_target}', '0.998', 'slo(): the active target is the latest');
SELECT is(idgraph.slo('checkout') #>> '{active,set_by}', session_user::text, 'slo(): with its actor');
SELECT is(jsonb_array_length(idgraph.slo('checkout') -> 'history'), :pre_checkout + 2, 'slo(): the history has both changes');
SELECT is(row(idgraph.slo('checkout') #>> '{history,0,new_value,availability_target}',
              idgraph.slo('checkout') #>> '{history,0,old_value,availability_target}',
              idgraph.slo('checkout') #>> '{history,0,rationale}',
              idgraph.slo('checkout') #>> '{history,0,actor}',
              idgraph.slo('checkout') #>> '{history,0,actor_claim}')::text,
          row('0.998', '0.997', 'Q4 review', session_user, 'bob')::text,
          'slo(): newest first, with old and new value, rationale, actor and the caller''s claim beside it');
SELECT is(idgraph.slo('checkout') #> '{history,1,old_value}', 'null'::jsonb, 'the first change has no old value');
SELECT is(idgraph.slo('checkout') #>> '{history,1,new_value,availability_target}', '0.997', 'and set the first target');
SELECT is(idgraph.slo('orders') - 'history', '{"service_id": "orders", "active": null}', 'slo() of a service without one');
SELECT throws_ok($$SELECT idgraph.slo('no-such-service')$$, 'P0002', NULL, 'slo(): unknown service -> P0002');
SELECT is((SELECT count(*)::int FROM idgraph.slo_audit_log WHERE service_id IN ('checkout', 'gateway')), :pre_cg + 3, 'slo_audit_log has one row per change');
SELECT throws_ok($$UPDATE idgraph.slo_audit_log SET actor = 'mallory'$$, '42501', NULL, 'slo_audit_log refuses UPDATE');
SELECT throws_ok($$DELETE FROM idgraph.slo_audit_log$$, '42501', NULL, 'slo_audit_log refuses DELETE');
SELECT throws_ok($$TRUNCATE idgraph.slo_audit_log$$, '42501', NULL, 'slo_audit_log refuses TRUNCATE');
SELECT throws_ok($$SELECT idgraph.set_slo('no-such-service', 0.99)$$, 'P0002', NULL, 'set_slo: unknown service -> P0002');
SELECT throws_ok($$SELECT idgraph.set_slo('orders', 1)$$, '22023', NULL, 'set_slo: target 1 -> 22023');
SELECT throws_ok($$SELECT idgraph.set_slo('orders', 0)$$, '22023', NULL, 'set_slo: target 0 -> 22023');
SELECT throws_ok($$SELECT idgraph.set_slo('orders', 99.9)$$, '22023', NULL, 'set_slo: a percentage -> 22023');
SELECT throws_ok($$SELECT idgraph.set_slo('orders', NULL)$$, '22004', NULL, 'set_slo: NULL target -> 22004');
SELECT throws_ok($$SELECT idgraph.set_slo('orders', 0.99, 500, 100)$$, '22023', NULL, 'set_slo: p99 below p95 -> 22023');
SELECT throws_ok($$SELECT idgraph.set_slo('orders', 0.99, -5)$$, '22023', NULL, 'set_slo: negative latency -> 22023');
SELECT is(idgraph.slo('orders') -> 'active', 'null'::jsonb, 'failed set_slo calls wrote nothing');
SELECT is((SELECT count(*)::int FROM idgraph.slo_audit_log WHERE service_id = 'orders'), :pre_orders, 'not even history rows');
SELECT is((idgraph.composite_availability('checkout') ->> 'slo_target')::float8, 0.998::float8, 'composite_availability reports the SLO target');

-- Impact analysis: payment 0.9995 -> 0.995 ------------------------------------------------------
-- Upstream of payment: checkout, orders, reports (depth 1), gateway (2), web (3); not unrelated.
-- current composites:  checkout 0.999 x 0.9995                      = 0.9985005
--                      orders   0.998 x 0.9995                      = 0.997501
--                      gateway  0.9999 x 0.999 x 0.9995             = 0.99840064995
--                      web      0.999 x 0.9999 x 0.999 x 0.9995     = 0.99740224930005
--                      reports  0.999 (payment is a soft dependency) = 0.999
-- projected: payment's factor 0.9995 becomes 0.995, so delta = current / 0.9995 x (0.995 - 0.9995):
--   checkout -0.0044955, gateway -0.00449505045, orders -0.004491, web -0.0044905553996, reports 0
-- SLOs: checkout 0.998 > projected 0.994005 -> at risk; gateway 0.99 <= 0.9939056 -> not at risk;
--       orders, web, reports have none -> null.
CREATE TEMP TABLE imp AS SELECT idgraph.impact_analysis('payment', 0.995, 'full') AS j;  -- every row
SELECT is(j ->> 'service_id', 'payment', 'impact: names the changed service') FROM imp;
SELECT is(j -> 'proposed_change', '{"sli_type": "availability", "current_availability": 0.9995, "proposed_availability": 0.995}',
          'impact: the proposed change') FROM imp;
SELECT results_eq(
  $$SELECT r ->> 'service_id', r ->> 'relationship', (r ->> 'depth')::int FROM imp, jsonb_array_elements(j -> 'impacted_services') r$$,
  $$VALUES ('checkout', 'upstream', 1), ('gateway', 'upstream (transitive)', 2), ('orders', 'upstream', 1),
           ('web', 'upstream (transitive)', 3), ('reports', 'upstream', 1)$$,
  'impact: every upstream service, direct and transitive, sorted by delta (most negative first)');
CREATE TEMP TABLE expected_impact (service_id text, current float8, projected float8);
INSERT INTO expected_impact VALUES
  ('checkout', 0.999 * 0.9995::float8,                  0.999 * 0.995::float8),
  ('orders',   0.998 * 0.9995::float8,                  0.998 * 0.995::float8),
  ('gateway',  0.9999 * 0.999 * 0.9995::float8,         0.9999 * 0.999 * 0.995::float8),
  ('web',      0.999 * 0.9999 * 0.999 * 0.9995::float8, 0.999 * 0.9999 * 0.999 * 0.995::float8),
  ('reports',  0.999::float8,                           0.999::float8);
SELECT ok(abs((r ->> 'current_composite_availability')::float8 - e.current) < 1e-12
          AND abs((r ->> 'projected_composite_availability')::float8 - e.projected) < 1e-12
          AND abs((r ->> 'delta')::float8 - (e.projected - e.current)) < 1e-12,
          'impact: current, projected and delta of ' || e.service_id)
  FROM imp, jsonb_array_elements(j -> 'impacted_services') r JOIN expected_impact e ON e.service_id = r ->> 'service_id'
 ORDER BY e.service_id;
SELECT results_eq(
  $$SELECT r ->> 'service_id', (r ->> 'current_slo_target')::float8, (r ->> 'slo_at_risk')::boolean
      FROM imp, jsonb_array_elements(j -> 'impacted_services') r ORDER BY 1$$,
  $$VALUES ('checkout', 0.998::float8, true), ('gateway', 0.99, false), ('orders', NULL, NULL),
           ('reports', NULL, NULL), ('web', NULL, NULL)$$,
  'impact: SLO targets and at-risk flags (null without an SLO)');
SELECT is((SELECT r ->> 'risk_detail' FROM jsonb_array_elements(j -> 'impacted_services') r WHERE r ->> 'service_id' = 'checkout'),
          'Composite drops below SLO target (99.8% > 99.4005%)', 'impact: the risk detail') FROM imp;
SELECT is(j -> 'summary', '{"total_impacted": 5, "slos_at_risk": 1,
          "recommendation": "Reducing payment to 99.5% puts 1 upstream service at risk of SLO breach (5 upstream in total)."}',
          'impact: the summary') FROM imp;
SELECT is((SELECT count(*)::int FROM jsonb_array_elements(j -> 'impacted_services') r WHERE r ->> 'service_id' IN ('unrelated', 'other')), 0,
          'impact: services that do not depend on payment are not listed') FROM imp;
SELECT is(jsonb_array_length(idgraph.impact_analysis('web', 0.9) -> 'impacted_services'), 0, 'impact: nothing depends on web');
SELECT throws_ok($$SELECT idgraph.impact_analysis('no-such-service', 0.99)$$, 'P0002', NULL, 'impact: unknown service -> P0002');
SELECT throws_ok($$SELECT idgraph.impact_analysis('payment', 1.5)$$, '22023', NULL, 'impact: proposed 1.5 -> 22023');
SELECT throws_ok($$SELECT idgraph.impact_analysis('payment', -0.1)$$, '22023', NULL, 'impact: proposed -0.1 -> 22023');
SELECT throws_ok($$SELECT idgraph.impact_analysis('payment', 'NaN')$$, '22023', NULL, 'impact: proposed NaN -> 22023');

-- Centrality ----------------------------------------------------------------------------------------
-- A fresh graph: l1 -> h, l2 -> h, h -> l3, h -> l4, l1 -> l3, plus ten isolated services p01..p10
-- (n = 15, so a single-edge change is recomputed locally, not by a full pass).
DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
SELECT lives_ok($$SELECT idgraph.ingest_graph(jsonb_build_object('source', 'manual',
    'nodes', (SELECT jsonb_agg(jsonb_build_object('service_id', format('p%s', lpad(g::text, 2, '0')))) FROM generate_series(1, 10) g),
    'edges', '[{"source": "l1", "target": "h"}, {"source": "l2", "target": "h"}, {"source": "h", "target": "l3"},
               {"source": "h", "target": "l4"}, {"source": "l1", "target": "l3"}]'::jsonb))$$, 'ingest the star');
SELECT is(idgraph.refresh_centrality('exact') - 'seconds' - 'seconds_compute' - 'graph_version' - 'threads'
            - 'seconds_load' - 'seconds_write' - 'rows_written' - 'rows_updated' - 'rows_inserted'
            - 'cache_bytes_services' - 'cache_bytes_edges' - 'graph_edges',
          '{"services": 15, "edges": 5, "mode": "exact"}', 'refresh_centrality(''exact'') over 15 services and 5 edges');
-- Directed betweenness, by hand: shortest paths through h: l1->h->l4, l2->h->l3, l2->h->l4 (l1->l3 is direct) = 3.
-- Nobody else lies inside a shortest path. Normalized: 3 / ((n-1)(n-2)) = 3 / 182.
-- Clustering (undirected): h's neighbours l1, l2, l3, l4 have 1 link (l1-l3) of 6 pairs = 1/6;
-- l1 (neighbours h, l3) and l3 (h, l1): their pair is linked = 1; l2, l4: one neighbour = 0.
SELECT results_eq(
  $$SELECT service, in_degree, out_degree, degree, betweenness, betweenness_stale FROM idgraph.centrality_of('h')$$,
  $$VALUES ('h', 2, 2, 4, 3::float8, false)$$, 'h: in 2, out 2, degree 4, betweenness 3, fresh');
SELECT ok(abs((SELECT betweenness_normalized FROM idgraph.centrality_of('h')) - 3.0 / 182) < 1e-12, 'h: normalized betweenness 3/182');
SELECT ok(abs((SELECT clustering FROM idgraph.centrality_of('h')) - 1.0 / 6) < 1e-12, 'h: clustering 1/6');
SELECT results_eq(
  $$SELECT s.service, c.in_degree, c.out_degree, c.betweenness, c.clustering
      FROM unnest(ARRAY['l1', 'l2', 'l3', 'l4', 'p01']) s(service), idgraph.centrality_of(s.service) c ORDER BY 1$$,
  $$VALUES ('l1', 0, 2, 0::float8, 1::float8), ('l2', 0, 1, 0, 0), ('l3', 2, 0, 0, 1), ('l4', 1, 0, 0, 0), ('p01', 0, 0, 0, 0)$$,
  'the leaves and an isolated service');
SELECT results_eq($$SELECT rank, service, value, stale FROM idgraph.centrality_top('betweenness', 1)$$,
                  $$VALUES (1::bigint, 'h', 3::float8, false)$$, 'centrality_top(betweenness, 1) is h');
SELECT results_eq($$SELECT service, value FROM idgraph.centrality_top('clustering', 3)$$,
                  $$VALUES ('l1', 1::float8), ('l3', 1), ('h', 1.0 / 6)$$, 'centrality_top(clustering, 3): ties by name');
SELECT results_eq($$SELECT service, value FROM idgraph.centrality_top('in_degree', 2)$$,
                  $$VALUES ('h', 2::float8), ('l3', 2)$$, 'centrality_top(in_degree, 2)');
SELECT is((SELECT betweenness_mode FROM idgraph.centrality c JOIN idgraph.services s USING (service_pk) WHERE s.service_id = 'h'), 'exact',
          'the table records the mode');

-- An edge change: l4 -> l2. Degree and clustering follow within the transaction; betweenness turns stale.
SELECT lives_ok($$SELECT idgraph.ingest_graph('{"source": "manual", "edges": [{"source": "l4", "target": "l2"}]}')$$, 'add l4 -> l2');
SELECT is((SELECT betweenness_stale FROM idgraph.centrality_of('h')), true, 'betweenness is stale after the edge change');
SELECT is((SELECT betweenness FROM idgraph.centrality_of('h')), 3::float8, 'and still the value from the last refresh');
SELECT is((SELECT bool_and(stale) FROM idgraph.centrality_top('betweenness', 5)), true, 'centrality_top says so too');
SELECT is((SELECT bool_or(stale) FROM idgraph.centrality_top('degree', 5)), false, 'degree is never stale');
SELECT results_eq($$SELECT s.service, c.in_degree, c.out_degree, c.degree FROM unnest(ARRAY['l2', 'l4']) s(service), idgraph.centrality_of(s.service) c$$,
                  $$VALUES ('l2', 1, 1, 2), ('l4', 1, 1, 2)$$, 'the endpoints'' degrees are current');
-- h's neighbours now have 2 links (l1-l3, l2-l4) of 6 pairs = 1/3; l2 (h, l4) and l4 (h, l2): 1.
SELECT ok(abs((SELECT clustering FROM idgraph.centrality_of('h')) - 1.0 / 3) < 1e-12, 'h''s clustering (a common neighbour) is current: 1/3');
SELECT results_eq($$SELECT s.service, c.clustering FROM unnest(ARRAY['l2', 'l4']) s(service), idgraph.centrality_of(s.service) c$$,
                  $$VALUES ('l2', 1::float8), ('l4', 1::float8)$$, 'the endpoints'' clustering is current');
SELECT is((SELECT graph_version FROM idgraph.centrality_of('l4')), (SELECT topology_version FROM idgraph.graph_state),
          'and marked current for the new topology version');
-- Refresh: betweenness of h is now 5: l1->h->l4, l1->h->l4->l2, l2->h->l3, l2->h->l4, l4->l2->h->l3.
SELECT lives_ok($$SELECT idgraph.refresh_centrality()$$, 'refresh again');
SELECT results_eq($$SELECT betweenness, betweenness_stale FROM idgraph.centrality_of('h')$$, $$VALUES (5::float8, false)$$,
                  'h: betweenness 5, fresh again');
SELECT results_eq($$SELECT s.service, c.betweenness FROM unnest(ARRAY['l2', 'l4']) s(service), idgraph.centrality_of(s.service) c$$,
                  $$VALUES ('l2', 2::float8), ('l4', 2::float8)$$, 'l2 (l4->h, l4->l3) and l4 (h->l2, l1->l2): 2 each');
-- Removing l1 -> l3 directly: h back to one link (l2-l4) = 1/6, l1 to 0.
DELETE FROM idgraph.edges WHERE source_pk = (SELECT service_pk FROM idgraph.services WHERE service_id = 'l1')
                            AND target_pk = (SELECT service_pk FROM idgraph.services WHERE service_id = 'l3');
SELECT results_eq($$SELECT s.service, c.in_degree, c.out_degree, round(c.clustering::numeric, 12)
                      FROM unnest(ARRAY['h', 'l1', 'l3']) s(service), idgraph.centrality_of(s.service) c$$,
                  $$VALUES ('h', 2, 2, round(1.0 / 6, 12)), ('l1', 0, 1, 0), ('l3', 1, 0, 0)$$,
                  'a deleted edge updates degree and clustering at once');
SELECT is((SELECT betweenness_stale FROM idgraph.centrality_of('h')), true, 'and makes betweenness stale');

-- Sampled mode and errors
SELECT is(idgraph.refresh_centrality('sampled', 5) ->> 'mode', 'sampled:5', 'refresh_centrality(''sampled'', 5)');
SELECT is((SELECT betweenness_mode FROM idgraph.centrality c JOIN idgraph.services s USING (service_pk) WHERE s.service_id = 'h'), 'sampled:5',
          'the table records the sampled mode');
SELECT throws_ok($$SELECT idgraph.refresh_centrality('exact', 5)$$, '22023', NULL, 'refresh_centrality: samples with exact -> 22023');
SELECT throws_ok($$SELECT idgraph.refresh_centrality('sampled')$$, '22023', NULL, 'refresh_centrality: sampled without samples -> 22023');
SELECT throws_ok($$SELECT idgraph.refresh_centrality('sampled', 0)$$, '22023', NULL, 'refresh_centrality: 0 samples -> 22023');
SELECT throws_ok($$SELECT idgraph.refresh_centrality('fast')$$, '22023', NULL, 'refresh_centrality: unknown mode -> 22023');
SELECT throws_ok($$SELECT * FROM idgraph.centrality_top('pagerank')$$, '22023', NULL, 'centrality_top: unknown metric -> 22023');
SELECT throws_ok($$SELECT * FROM idgraph.centrality_top('degree', 0)$$, '22023', NULL, 'centrality_top: k = 0 -> 22023');
SELECT throws_ok($$SELECT * FROM idgraph.centrality_of('no-such-service')$$, 'P0002', NULL, 'centrality_of: unknown service -> P0002');

SELECT * FROM finish();
ROLLBACK;
