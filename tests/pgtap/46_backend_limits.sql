-- Inside a backend (issue 10): the thread bound of betweenness (idgraph.max_threads) and
-- cancellation of every long graph computation by statement_timeout (57014), with the
-- backend usable afterwards. The cancel tests use a star that is one strongly connected
-- component (a hub <-> 20,000 leaves): its closed cycle walk, its impact analysis and its
-- betweenness each cost ~10^8..10^9 steps, far beyond the 200 ms timeout, while loading it
-- is quick. No assertion on speed: only that the call is canceled and the next one works.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(17);

DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
DELETE FROM idgraph.circular_dependency_alerts;
SELECT idgraph.graph_cache_reset();  -- loads the library, so its settings are defined

-- idgraph.max_threads ---------------------------------------------------------------------
SELECT is(current_setting('idgraph.max_threads'), '2', 'idgraph.max_threads defaults to 2');
SELECT throws_ok($$SET LOCAL idgraph.max_threads = 0$$, '22023', NULL, 'max_threads 0 is refused');
SELECT throws_ok($$SET LOCAL idgraph.max_threads = 65$$, '22023', NULL, 'max_threads above 64 is refused');
SELECT throws_ok($$SET LOCAL idgraph.max_threads = 'many'$$, '22023', NULL, 'a non-integer max_threads is refused');

-- A 400-service graph with non-trivial betweenness: i -> 7i+1, i -> 13i+5 (mod 400).
SELECT lives_ok($sql$SELECT idgraph.ingest_graph(jsonb_build_object('source', 'manual', 'edges',
  (SELECT jsonb_agg(jsonb_build_object('source', format('m%s', i), 'target', format('m%s', t)))
     FROM generate_series(0, 399) i, LATERAL (VALUES ((7 * i + 1) % 400), ((13 * i + 5) % 400)) v(t)
    WHERE t <> i)))$sql$, 'ingest the 400-service graph');
SET LOCAL idgraph.max_threads = 1;
SELECT is(idgraph.refresh_centrality()->>'threads', '1', 'a refresh with max_threads = 1 runs on 1 thread');
CREATE TEMP TABLE bc_one_thread AS SELECT service_pk, betweenness, clustering FROM idgraph.centrality;
SET LOCAL idgraph.max_threads = 2;
SELECT is(idgraph.refresh_centrality()->>'threads', '2', 'the pool is rebuilt when the setting changes: 2 threads');
SELECT ok((SELECT max(betweenness) > 0 FROM idgraph.centrality), 'betweenness is not trivially zero');
SELECT is((SELECT count(*)::int FROM bc_one_thread o JOIN idgraph.centrality c USING (service_pk)
            WHERE abs(o.betweenness - c.betweenness) <= 1e-12 AND abs(o.clustering - c.clustering) <= 1e-12),
          400, 'betweenness and clustering with 1 thread equal those with 2 (within 1e-12)');

-- Cancellation ----------------------------------------------------------------------------
DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
INSERT INTO idgraph.services (service_id, availability)
SELECT 'hub', 0.999 UNION ALL SELECT format('leaf-%s', i), 0.999 FROM generate_series(1, 20000) i;
WITH h AS (SELECT service_pk FROM idgraph.services WHERE service_id = 'hub'),
     l AS (SELECT service_pk FROM idgraph.services WHERE service_id <> 'hub')
INSERT INTO idgraph.edges (source_pk, target_pk, discovery_source)
SELECT h.service_pk, l.service_pk, 'manual' FROM h, l
UNION ALL
SELECT l.service_pk, h.service_pk, 'manual' FROM h, l;
SELECT is((SELECT count(*)::int FROM idgraph.dependencies('hub', 'downstream', 1)), 20000,
          'the star is loaded (and cached in this backend)');

-- The SQLSTATE a statement fails with (NULL when it succeeds). Not throws_ok: PL/pgSQL's
-- WHEN OTHERS, which pgTAP uses, never catches query_canceled.
CREATE FUNCTION pg_temp.sqlstate_of(p_sql text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
  EXECUTE p_sql;
  RETURN NULL;
EXCEPTION WHEN query_canceled THEN
  RETURN SQLSTATE;
END $f$;

SET LOCAL statement_timeout = '200ms';
SELECT is(pg_temp.sqlstate_of($$SELECT count(*) FROM idgraph.cycles()$$), '57014',
                 'cycles() over a 20,001-service component is canceled by statement_timeout');
SELECT is(pg_temp.sqlstate_of($$SELECT idgraph.impact_analysis('hub', 0.99)$$), '57014',
                 'impact_analysis over 20,000 upstream services is canceled by statement_timeout');
SELECT is(pg_temp.sqlstate_of($$SELECT idgraph.refresh_centrality()$$), '57014',
                 'refresh_centrality of the star is canceled by statement_timeout');
SELECT is(pg_temp.sqlstate_of($$SELECT idgraph.ingest_graph('{"source": "manual", "edges": [{"source": "hub", "target": "leaf-1"}]}')$$),
          '57014', 'an ingest whose cycle detection walks the star is canceled too');
SET LOCAL statement_timeout = 0;

SELECT is((SELECT count(*)::int FROM idgraph.dependencies('hub', 'downstream', 1)), 20000,
          'the backend answers graph calls after the cancels');
SELECT is((SELECT count(*)::int FROM idgraph.centrality WHERE betweenness_version IS NOT NULL
              AND service_pk IN (SELECT service_pk FROM idgraph.services WHERE service_id LIKE 'leaf-%')),
          0, 'the canceled refresh wrote no betweenness');
SET LOCAL idgraph.max_threads = 1;
SELECT is((SELECT (idgraph.refresh_centrality('sampled', 1)->>'threads')), '1',
          'the pool works after a canceled refresh');

SELECT * FROM finish();
ROLLBACK;
