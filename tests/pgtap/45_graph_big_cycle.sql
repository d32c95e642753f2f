-- A strongly connected component far bigger than a btree key (a 3,000-service ring) is
-- recorded as one alert, and later ingests keep working.
BEGIN;
SELECT plan(5);
SET LOCAL client_min_messages = warning;
DELETE FROM idgraph.services;

CREATE TEMP TABLE ring AS
SELECT jsonb_build_object('source', 'manual', 'edges',
         jsonb_agg(jsonb_build_object('source', format('ring-service-with-a-long-name-%s', i),
                                      'target', format('ring-service-with-a-long-name-%s', (i + 1) % 3000)))) AS doc
  FROM generate_series(0, 2999) i;

SELECT lives_ok($$SELECT idgraph.ingest_graph((SELECT doc FROM ring))$$, 'ingest of a 3,000-service ring');
SELECT is((SELECT count(*)::int FROM idgraph.circular_dependency_alerts WHERE status = 'open'
             AND cardinality(members) = 3000), 1, 'the ring is one open alert with all 3,000 members');
SELECT lives_ok($$SELECT idgraph.ingest_graph((SELECT doc FROM ring))$$, 're-ingest of the same ring');
SELECT lives_ok($$SELECT idgraph.ingest_graph('{"source": "manual", "edges": [{"source": "ring-service-with-a-long-name-0", "target": "extra"}]}')$$,
                'a one-edge ingest after it');
SELECT is((SELECT count(*)::int FROM idgraph.circular_dependency_alerts WHERE status = 'open'
             AND cardinality(members) = 3000), 1, 'still one open alert for the ring');

SELECT * FROM finish();
ROLLBACK;
