-- Dependency graph ingest (SPEC §2, issue 3): idempotent bulk upsert of FR-1 documents,
-- partial merges, placeholders, conflicts between discovery sources, cycle alerts, and
-- bad documents refused with 22023 (54000 over the size caps) and nothing written.
BEGIN;
SET LOCAL client_min_messages = warning;  -- ingest's temp tables say NOTICE on every call
SELECT plan(100);

-- The graph is global: start from an empty one (rolled back at the end).
DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
DELETE FROM idgraph.circular_dependency_alerts;

CREATE TEMP TABLE doc (name text PRIMARY KEY, body jsonb);
INSERT INTO doc VALUES ('d1', $${
  "source": "manual", "timestamp": "2026-11-01T10:00:00Z",
  "nodes": [
    {"service_id": "checkout", "metadata": {"team": "payments", "criticality": "high", "tier": 1}},
    {"service_id": "payment", "kind": "internal", "availability": 0.9995, "team": "payments", "criticality": "critical"},
    {"service_id": "stripe", "kind": "external", "published_sla": 0.9999}
  ],
  "edges": [
    {"source": "checkout", "target": "payment",
     "attributes": {"communication_mode": "sync", "criticality": "hard", "protocol": "grpc",
                    "timeout_ms": 5000, "retry_config": {"max_retries": 3}}},
    {"source": "payment", "target": "stripe", "attributes": {"communication_mode": "sync", "criticality": "hard", "protocol": "https"}},
    {"source": "checkout", "target": "inventory"}
  ]}$$);
CREATE TEMP TABLE summary (step text PRIMARY KEY, s jsonb);

-- First ingest ------------------------------------------------------------------------
INSERT INTO summary SELECT 'first', idgraph.ingest_graph(body) FROM doc WHERE name = 'd1';
SELECT is((SELECT s -> 'received' FROM summary WHERE step = 'first'), '{"nodes": 3, "edges": 3}', 'first: received 3 nodes, 3 edges');
SELECT is((SELECT s -> 'created' FROM summary WHERE step = 'first'), '{"services": 3, "edges": 3}', 'first: created 3 services, 3 edges');
SELECT is((SELECT s -> 'updated' FROM summary WHERE step = 'first'), '{"services": 0, "edges": 0}', 'first: updated nothing');
SELECT is((SELECT (s ->> 'placeholders')::int FROM summary WHERE step = 'first'), 1, 'first: one placeholder (inventory, known only from an edge)');
SELECT is((SELECT s -> 'conflicts' FROM summary WHERE step = 'first'), '[]', 'first: no conflicts');
SELECT is((SELECT (s #>> '{cycles,count}')::int FROM summary WHERE step = 'first'), 0, 'first: no cycles');
SELECT is((SELECT s ->> 'source' FROM summary WHERE step = 'first'), 'manual', 'the summary names the source');
SELECT ok((SELECT (s ->> 'graph_version')::bigint > 0 AND jsonb_typeof(s -> 'seconds') = 'number' FROM summary WHERE step = 'first'),
          'the summary carries the graph version and the time taken');

SELECT results_eq(
  $$SELECT service_id, team, criticality, kind, availability, published_sla, discovered
      FROM idgraph.services ORDER BY service_id$$,
  $$VALUES ('checkout', 'payments', 'high', 'internal', NULL::float8, NULL::float8, false),
           ('inventory', NULL, NULL, 'internal', NULL, NULL, true),
           ('payment', 'payments', 'critical', 'internal', 0.9995, NULL, false),
           ('stripe', NULL, NULL, 'external', NULL, 0.9999, false)$$,
  'services as ingested: team/criticality lifted from metadata, kind, availability, published SLA, placeholder');
SELECT is((SELECT metadata ->> 'tier' FROM idgraph.services WHERE service_id = 'checkout'), '1', 'free-form metadata is kept');
SELECT results_eq(
  $$SELECT s.service_id, t.service_id, e.discovery_source, e.communication_mode, e.criticality, e.protocol, e.timeout_ms,
           e.retry_config, e.confidence, e.stale, e.last_observed_at = '2026-11-01T10:00:00Z'::timestamptz
      FROM idgraph.edges e JOIN idgraph.services s ON s.service_pk = e.source_pk JOIN idgraph.services t ON t.service_pk = e.target_pk
     ORDER BY 1, 2$$,
  $$VALUES ('checkout', 'inventory', 'manual', 'sync', 'hard', NULL::text, NULL::int, NULL::jsonb, 1.0::float8, false, true),
           ('checkout', 'payment', 'manual', 'sync', 'hard', 'grpc', 5000, '{"max_retries": 3}', 1.0, false, true),
           ('payment', 'stripe', 'manual', 'sync', 'hard', 'https', NULL, NULL, 1.0, false, true)$$,
  'edges as ingested, defaults sync/hard/confidence 1, observed at the document''s timestamp');

-- Idempotent re-ingest -------------------------------------------------------------------
CREATE TEMP TABLE before_services AS SELECT * FROM idgraph.services;
CREATE TEMP TABLE before_edges AS SELECT * FROM idgraph.edges;
INSERT INTO summary SELECT 'again', idgraph.ingest_graph(body) FROM doc WHERE name = 'd1';
SELECT is((SELECT s -> 'created' FROM summary WHERE step = 'again'), '{"services": 0, "edges": 0}', 'again: nothing created');
SELECT is((SELECT s -> 'updated' FROM summary WHERE step = 'again'), '{"services": 0, "edges": 0}', 'again: nothing updated');
SELECT is((SELECT (s ->> 'placeholders')::int FROM summary WHERE step = 'again'), 0, 'again: no placeholders');
SELECT is((SELECT s -> 'received' FROM summary WHERE step = 'again'), '{"nodes": 3, "edges": 3}', 'again: received the same');
SELECT set_eq('SELECT * FROM idgraph.services', 'SELECT * FROM before_services', 'the same document twice leaves the services as they were');
SELECT set_eq('SELECT * FROM idgraph.edges', 'SELECT * FROM before_edges', 'and the edges as they were');

-- Same document, later observation: only observation times move.
UPDATE doc SET body = jsonb_set(body, '{timestamp}', '"2026-11-02T10:00:00Z"') WHERE name = 'd1';
INSERT INTO summary SELECT 'later', idgraph.ingest_graph(body) FROM doc WHERE name = 'd1';
SELECT is((SELECT s -> 'updated' FROM summary WHERE step = 'later'), '{"services": 0, "edges": 0}', 'later: no service or edge counts as updated');
SELECT set_eq(
  'SELECT service_pk, service_id, metadata, team, criticality, kind, availability, published_sla, discovered, created_at, updated_at FROM idgraph.services',
  'SELECT service_pk, service_id, metadata, team, criticality, kind, availability, published_sla, discovered, created_at, updated_at FROM before_services',
  'later: every service attribute (and updated_at) unchanged');
SELECT ok((SELECT bool_and(last_seen_at = '2026-11-02T10:00:00Z') FROM idgraph.services WHERE NOT discovered),
          'later: last_seen_at moved to the new observation');
SELECT ok((SELECT bool_and(last_observed_at = '2026-11-02T10:00:00Z' AND first_observed_at = '2026-11-01T10:00:00Z') FROM idgraph.edges),
          'later: edges last_observed_at moved, first_observed_at kept');
SELECT set_eq(
  'SELECT edge_pk, source_pk, target_pk, discovery_source, communication_mode, criticality, protocol, timeout_ms, retry_config, redundancy_group, confidence, stale FROM idgraph.edges',
  'SELECT edge_pk, source_pk, target_pk, discovery_source, communication_mode, criticality, protocol, timeout_ms, retry_config, redundancy_group, confidence, stale FROM before_edges',
  'later: every edge attribute unchanged');
-- An older observation does not move times backwards.
SELECT lives_ok($$SELECT idgraph.ingest_graph(jsonb_set(body, '{timestamp}', '"2026-10-01T00:00:00Z"')) FROM doc WHERE name = 'd1'$$,
                'an older document is accepted');
SELECT ok((SELECT bool_and(last_observed_at = '2026-11-02T10:00:00Z') FROM idgraph.edges), 'and does not move observation times backwards');

-- Partial documents merge ------------------------------------------------------------------
INSERT INTO summary SELECT 'partial', idgraph.ingest_graph($${"source": "manual",
  "nodes": [{"service_id": "inventory", "team": "stock"}, {"service_id": "checkout", "metadata": {"owner": "alice"}}]}$$);
SELECT is((SELECT s -> 'created' FROM summary WHERE step = 'partial'), '{"services": 0, "edges": 0}', 'partial: nothing created');
SELECT is((SELECT s #> '{updated,services}' FROM summary WHERE step = 'partial'), '2', 'partial: two services updated');
SELECT is((SELECT row(discovered, team)::text FROM idgraph.services WHERE service_id = 'inventory'), '(f,stock)',
          'a placeholder named by a node becomes a real service');
SELECT is((SELECT metadata FROM idgraph.services WHERE service_id = 'checkout'),
          '{"team": "payments", "criticality": "high", "tier": 1, "owner": "alice"}'::jsonb,
          'metadata merges key by key');
SELECT is((SELECT row(team, criticality)::text FROM idgraph.services WHERE service_id = 'checkout'), '(payments,high)',
          'fields absent from a partial node keep their values');
SELECT is((SELECT count(*)::int FROM idgraph.edges), 3, 'a nodes-only document leaves the edges alone');
INSERT INTO summary SELECT 'edge-partial', idgraph.ingest_graph($${"source": "manual",
  "edges": [{"source": "checkout", "target": "payment", "attributes": {"timeout_ms": 3000}}]}$$);
SELECT is((SELECT s -> 'updated' FROM summary WHERE step = 'edge-partial'), '{"services": 0, "edges": 1}', 'partial edge: one edge updated');
SELECT is((SELECT row(e.communication_mode, e.criticality, e.protocol, e.timeout_ms, e.retry_config)::text
             FROM idgraph.edges e JOIN idgraph.effective_edges f USING (edge_pk)
            WHERE f.source_id = 'checkout' AND f.target_id = 'payment'),
          '(sync,hard,grpc,3000,"{""max_retries"": 3}")', 'partial edge: only timeout_ms changed, the rest kept');

-- Conflicts between discovery sources --------------------------------------------------------
INSERT INTO summary SELECT 'k8s', idgraph.ingest_graph($${"source": "kubernetes",
  "edges": [{"source": "checkout", "target": "payment", "attributes": {"communication_mode": "async", "protocol": "grpc"}}]}$$);
SELECT is((SELECT s -> 'created' FROM summary WHERE step = 'k8s'), '{"services": 0, "edges": 1}',
          'another source''s observation of a pair is its own edge row');
SELECT is((SELECT jsonb_array_length(s -> 'conflicts') FROM summary WHERE step = 'k8s'), 1, 'the disagreement is reported');
SELECT is((SELECT (s -> 'conflicts' -> 0) - 'values' FROM summary WHERE step = 'k8s'),
          '{"source": "checkout", "target": "payment", "fields": ["communication_mode"], "effective_source": "manual"}'::jsonb,
          'the conflict names the pair, the field and the winning source (manual beats kubernetes)');
SELECT is((SELECT s #>> '{conflicts,0,values,kubernetes,communication_mode}' || '/' || (s #>> '{conflicts,0,values,manual,communication_mode}')
             FROM summary WHERE step = 'k8s'), 'async/sync', 'and each source''s value');
SELECT is((SELECT row(discovery_source, communication_mode)::text FROM idgraph.effective_edges
            WHERE source_id = 'checkout' AND target_id = 'payment'), '(manual,sync)',
          'the effective edge is the manual one');
SELECT is((SELECT row(discovery_source, communication_mode)::text FROM idgraph.dependencies('checkout', 'downstream', 1)
            WHERE service_id = 'payment'), '(manual,sync)', 'traversal uses the effective (manual) edge');
INSERT INTO summary SELECT 'mesh', idgraph.ingest_graph($${"source": "service_mesh",
  "edges": [{"source": "checkout", "target": "payment", "attributes": {"criticality": "soft", "communication_mode": "sync"}}]}$$);
SELECT set_eq($$SELECT c ->> 'effective_source' AS winner, c -> 'fields' AS fields FROM summary, jsonb_array_elements(s -> 'conflicts') c WHERE step = 'mesh'$$,
              $$VALUES ('manual', '["criticality"]'::jsonb), ('service_mesh', '["communication_mode", "criticality"]'::jsonb)$$,
              'service_mesh vs manual: manual wins; service_mesh vs kubernetes: service_mesh wins');
SELECT is((SELECT discovery_source FROM idgraph.effective_edges WHERE source_id = 'checkout' AND target_id = 'payment'), 'manual',
          'still manual after a third source disagrees');

-- Cycles and alerts -------------------------------------------------------------------------
INSERT INTO summary SELECT 'cycle', idgraph.ingest_graph($${"source": "manual", "edges": [{"source": "inventory", "target": "checkout"}]}$$);
SELECT is((SELECT (s #>> '{cycles,count}')::int FROM summary WHERE step = 'cycle'), 1, 'a cycle is found after ingest');
SELECT is((SELECT s #> '{cycles,current,0,members}' FROM summary WHERE step = 'cycle'), '["checkout", "inventory"]',
          'its members, sorted');
SELECT is((SELECT s #> '{cycles,current,0,path}' FROM summary WHERE step = 'cycle'), '["checkout", "inventory", "checkout"]',
          'and a closed path through it');
SELECT is((SELECT jsonb_array_length(s #> '{cycles,new_alerts}') FROM summary WHERE step = 'cycle'), 1, 'a new cycle opens an alert');
SELECT ok((SELECT s #>> '{cycles,recommendation}' IS NOT NULL FROM summary WHERE step = 'cycle'), 'with a recommendation');
SELECT results_eq($$SELECT members, cycle_path, status FROM idgraph.circular_dependency_alerts$$,
                  $$VALUES (ARRAY['checkout', 'inventory'], ARRAY['checkout', 'inventory', 'checkout'], 'open')$$,
                  'circular_dependency_alerts holds the open alert');
INSERT INTO summary SELECT 'cycle-again', idgraph.ingest_graph($${"source": "manual", "edges": [{"source": "inventory", "target": "checkout"}]}$$);
SELECT is((SELECT s #> '{cycles,new_alerts}' FROM summary WHERE step = 'cycle-again'), '[]', 'a known cycle opens no second alert');
SELECT is((SELECT (s #>> '{cycles,count}')::int FROM summary WHERE step = 'cycle-again'), 1, 'but is still reported as current');
INSERT INTO summary SELECT 'self', idgraph.ingest_graph($${"source": "manual", "edges": [{"source": "payment", "target": "payment"}]}$$);
SELECT is((SELECT (s #>> '{cycles,count}')::int FROM summary WHERE step = 'self'), 2, 'a self loop is a cycle too');
SELECT is((SELECT cycle_path FROM idgraph.circular_dependency_alerts WHERE members = ARRAY['payment']), ARRAY['payment', 'payment'],
          'with the path [payment, payment]');
SELECT is((SELECT status FROM idgraph.acknowledge_cycle((SELECT alert_id FROM idgraph.circular_dependency_alerts WHERE members = ARRAY['payment']), 'sre-bob')),
          'acknowledged', 'acknowledge_cycle acknowledges an open alert');
SELECT is((SELECT row(acknowledged_by, acknowledged_by_claim)::text FROM idgraph.circular_dependency_alerts WHERE members = ARRAY['payment']),
          row(session_user, 'sre-bob')::text, 'and records who really acted, with the caller''s p_by as a claim');
SELECT throws_ok($$SELECT idgraph.acknowledge_cycle((SELECT alert_id FROM idgraph.circular_dependency_alerts WHERE members = ARRAY['payment']))$$,
                 '55000', NULL, 'acknowledging twice -> 55000');
SELECT throws_ok($$SELECT idgraph.acknowledge_cycle(-1)$$, 'P0002', NULL, 'acknowledging an unknown alert -> P0002');
-- Break both cycles; the next ingest resolves their alerts.
DELETE FROM idgraph.edges e USING idgraph.services s
 WHERE e.source_pk = s.service_pk AND s.service_id IN ('inventory', 'payment') AND e.target_pk IN
       (SELECT service_pk FROM idgraph.services WHERE service_id IN ('checkout', 'payment'));
INSERT INTO summary SELECT 'broken', idgraph.ingest_graph($${"source": "manual", "nodes": [{"service_id": "checkout"}]}$$);
SELECT is((SELECT (s #>> '{cycles,count}')::int FROM summary WHERE step = 'broken'), 0, 'no cycle left');
SELECT is((SELECT array_agg(status ORDER BY alert_id) FROM idgraph.circular_dependency_alerts), ARRAY['resolved', 'resolved'],
          'alerts of cycles that are gone are resolved');

-- set_availability / set_published_sla -------------------------------------------------------
SELECT lives_ok($$SELECT idgraph.set_availability('inventory', 0.997)$$, 'set_availability');
SELECT is((SELECT availability FROM idgraph.services WHERE service_id = 'inventory'), 0.997::float8, 'stores the observed availability');
SELECT lives_ok($$SELECT idgraph.set_published_sla('stripe', 0.9995)$$, 'set_published_sla');
SELECT is((SELECT published_sla FROM idgraph.services WHERE service_id = 'stripe'), 0.9995::float8, 'stores the published SLA');
SELECT throws_ok($$SELECT idgraph.set_availability('no-such-service', 0.9)$$, 'P0002', NULL, 'set_availability: unknown service -> P0002');
SELECT throws_ok($$SELECT idgraph.set_availability('inventory', 99.9)$$, '22023', NULL, 'set_availability: a percentage, not a fraction -> 22023');
SELECT throws_ok($$SELECT idgraph.set_availability('inventory', 'NaN')$$, '22023', NULL, 'set_availability: NaN -> 22023');
SELECT throws_ok($$SELECT idgraph.set_availability('inventory', NULL)$$, '22004', NULL, 'set_availability: NULL -> 22004');
SELECT throws_ok($$SELECT idgraph.set_published_sla('stripe', -0.1)$$, '22023', NULL, 'set_published_sla: negative -> 22023');

-- Bad documents: 22023, nothing written ---------------------------------------------------------
CREATE TEMP TABLE counts_before AS
  SELECT (SELECT count(*) FROM idgraph.services) AS services, (SELECT count(*) FROM idgraph.edges) AS edges,
         (SELECT count(*) FROM idgraph.circular_dependency_alerts) AS alerts;
CREATE TEMP TABLE bad (n serial, what text, body jsonb);
INSERT INTO bad (what, body) VALUES
  ('not an object',               '[{"service_id": "x"}]'),
  ('source missing',              '{"nodes": [{"service_id": "bad-1"}]}'),
  ('unknown source',              '{"source": "gossip", "nodes": [{"service_id": "bad-1"}]}'),
  ('source not a string',         '{"source": 1, "nodes": [{"service_id": "bad-1"}]}'),
  ('node without service_id',     '{"source": "manual", "nodes": [{"metadata": {}}]}'),
  ('empty service_id',            '{"source": "manual", "nodes": [{"service_id": "  "}]}'),
  ('service_id not a string',     '{"source": "manual", "nodes": [{"service_id": 42}]}'),
  ('service_id of 256 chars',     jsonb_build_object('source', 'manual', 'nodes', jsonb_build_array(jsonb_build_object('service_id', repeat('s', 256))))),
  ('availability not a number',   '{"source": "manual", "nodes": [{"service_id": "bad-1", "availability": "high"}]}'),
  ('availability a percentage',   '{"source": "manual", "nodes": [{"service_id": "bad-1", "availability": 99.9}]}'),
  ('unknown kind',                '{"source": "manual", "nodes": [{"service_id": "bad-1", "kind": "partner"}]}'),
  ('unknown service criticality', '{"source": "manual", "nodes": [{"service_id": "bad-1", "criticality": "urgent"}]}'),
  ('metadata not an object',      '{"source": "manual", "nodes": [{"service_id": "bad-1", "metadata": ["a"]}]}'),
  ('unknown node field',          '{"source": "manual", "nodes": [{"service_id": "bad-1", "colour": "red"}]}'),
  ('unknown top-level field',     '{"source": "manual", "services": [], "nodes": [{"service_id": "bad-1"}]}'),
  ('nodes not an array',          '{"source": "manual", "nodes": {"service_id": "bad-1"}}'),
  ('node not an object',          '{"source": "manual", "nodes": ["bad-1"]}'),
  ('edge without target',         '{"source": "manual", "edges": [{"source": "bad-1"}]}'),
  ('unknown communication_mode',  '{"source": "manual", "edges": [{"source": "bad-1", "target": "bad-2", "attributes": {"communication_mode": "maybe"}}]}'),
  ('unknown edge criticality',    '{"source": "manual", "edges": [{"source": "bad-1", "target": "bad-2", "attributes": {"criticality": "fatal"}}]}'),
  ('timeout_ms not a number',     '{"source": "manual", "edges": [{"source": "bad-1", "target": "bad-2", "attributes": {"timeout_ms": "soon"}}]}'),
  ('negative timeout_ms',         '{"source": "manual", "edges": [{"source": "bad-1", "target": "bad-2", "attributes": {"timeout_ms": -1}}]}'),
  ('retry_config not an object',  '{"source": "manual", "edges": [{"source": "bad-1", "target": "bad-2", "attributes": {"retry_config": 3}}]}'),
  ('confidence above 1',          '{"source": "manual", "edges": [{"source": "bad-1", "target": "bad-2", "attributes": {"confidence": 2}}]}'),
  ('unknown attribute',           '{"source": "manual", "edges": [{"source": "bad-1", "target": "bad-2", "attributes": {"weight": 2}}]}'),
  ('attributes not an object',    '{"source": "manual", "edges": [{"source": "bad-1", "target": "bad-2", "attributes": "sync"}]}'),
  ('timestamp not a string',      '{"source": "manual", "timestamp": 17, "nodes": [{"service_id": "bad-1"}]}'),
  ('neither nodes nor edges',     '{"source": "manual"}'),
  ('valid nodes, one bad edge',   '{"source": "manual", "nodes": [{"service_id": "bad-1"}, {"service_id": "bad-2"}],
                                    "edges": [{"source": "bad-1", "target": "bad-2"}, {"source": "bad-2", "target": "bad-1", "attributes": {"communication_mode": "SYNC"}}]}');
SELECT throws_ok(format('SELECT idgraph.ingest_graph(%L)', body), '22023', NULL, 'bad document (' || what || ') -> 22023')
  FROM bad ORDER BY n;
-- Over the caps: 54000 program_limit_exceeded, as for a batch over max_batch_size.
SELECT throws_ok(format('SELECT idgraph.ingest_graph(%L)',
                        jsonb_build_object('source', 'manual', 'nodes',
                          (SELECT jsonb_agg(jsonb_build_object('service_id', 'bulk-' || g)) FROM generate_series(1, 100000) g))),
                 '54000', 'the ingest document has 100000 nodes; the limit is 50000 per document',
                 'a document of 100,000 nodes (over the 50,000 cap) -> 54000');
SELECT throws_like($$SELECT idgraph.ingest_graph('{"source": "manual", "edges": [{"source": "a", "target": "b", "attributes": {"communication_mode": "maybe"}}]}')$$,
                   '%edges[0].attributes.communication_mode%', 'the error names the offending element');
SELECT throws_ok($$SELECT idgraph.ingest_graph('{"source": "manual", "timestamp": "not-a-date", "nodes": [{"service_id": "bad-1"}]}')$$,
                 '22007', NULL, 'a timestamp that is not ISO 8601 -> 22007 invalid_datetime_format');
SELECT is(idgraph.ingest_graph(NULL), NULL, 'ingest_graph(NULL) is NULL (strict)');
SELECT is((SELECT row(services, edges, alerts)::text FROM counts_before),
          (SELECT row((SELECT count(*) FROM idgraph.services), (SELECT count(*) FROM idgraph.edges),
                      (SELECT count(*) FROM idgraph.circular_dependency_alerts))::text),
          'no bad document wrote anything');
SELECT is_empty($$SELECT 1 FROM idgraph.services WHERE service_id LIKE 'bad-%' OR service_id LIKE 'bulk-%'$$,
                'not even the valid parts of a bad document');

SELECT * FROM finish();
ROLLBACK;
