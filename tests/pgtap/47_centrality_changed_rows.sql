-- refresh_centrality() writes only the rows whose values changed (issue 10): a second
-- refresh over an unchanged graph writes none, a one-edge change writes exactly the rows
-- whose values differ, and the result equals a full recomputation into an empty table.
-- Everything here runs in one transaction, so a written row is one whose ctid moved.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(16);

DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
DELETE FROM idgraph.centrality;

-- A chain a -> b -> c -> d -> e, a side branch b -> f, and isolated services q1..q5 (n = 11).
SELECT lives_ok($$SELECT idgraph.ingest_graph(jsonb_build_object('source', 'manual',
    'nodes', (SELECT jsonb_agg(jsonb_build_object('service_id', format('q%s', g))) FROM generate_series(1, 5) g),
    'edges', '[{"source": "a", "target": "b"}, {"source": "b", "target": "c"}, {"source": "c", "target": "d"},
               {"source": "d", "target": "e"}, {"source": "b", "target": "f"}]'::jsonb))$$, 'ingest the chain');

SELECT is((SELECT (r ->> 'rows_written')::int FROM idgraph.refresh_centrality() r), 11,
          'the first refresh writes every service (6 rows without a betweenness, 5 without a row)');
SELECT is((SELECT rows_written FROM idgraph.centrality_state), 11, 'and records it');
SELECT is((SELECT betweenness_version FROM idgraph.centrality_state), (SELECT topology_version FROM idgraph.graph_state),
          'the state holds the refresh''s topology version');

CREATE TEMP TABLE before ON COMMIT DROP AS
  SELECT service_pk, ctid::text AS at, service, in_degree, out_degree, degree, betweenness, betweenness_normalized,
         clustering, betweenness_mode FROM idgraph.centrality;
SELECT is((SELECT (r ->> 'rows_written')::int FROM idgraph.refresh_centrality() r), 0,
          'a second refresh over the same graph writes no row');
SELECT is((SELECT count(*)::int FROM idgraph.centrality c JOIN before b USING (service_pk) WHERE c.ctid::text <> b.at), 0,
          'no row has a new version');
SELECT is((SELECT count(*)::int FROM idgraph.centrality_of('c') WHERE NOT betweenness_stale), 1, 'c is current');

-- One edge: f -> d. The trigger updates degree and clustering of the affected services at
-- once; the refresh then writes exactly the rows whose values still differ.
SELECT lives_ok($$SELECT idgraph.ingest_graph('{"source": "manual", "edges": [{"source": "f", "target": "d"}]}')$$, 'add f -> d');
DELETE FROM before;
INSERT INTO before
  SELECT service_pk, ctid::text, service, in_degree, out_degree, degree, betweenness, betweenness_normalized,
         clustering, betweenness_mode FROM idgraph.centrality;
CREATE TEMP TABLE written ON COMMIT DROP AS
  SELECT (r ->> 'rows_written')::int AS n FROM idgraph.refresh_centrality() r;
SELECT cmp_ok((SELECT n FROM written), '>', 0, 'the refresh after the change writes rows');
SELECT cmp_ok((SELECT n FROM written), '<', 11, 'but not every row');
SELECT is((SELECT count(*)::int FROM idgraph.centrality c JOIN before b USING (service_pk) WHERE c.ctid::text <> b.at),
          (SELECT n FROM written), 'the rows with a new version are the rows it counted');
SELECT is((SELECT count(*)::int FROM idgraph.centrality c JOIN before b USING (service_pk)
            WHERE (c.service, c.in_degree, c.out_degree, c.degree, c.betweenness, c.betweenness_normalized, c.clustering,
                   c.betweenness_mode)
                  IS DISTINCT FROM (b.service, b.in_degree, b.out_degree, b.degree, b.betweenness,
                                    b.betweenness_normalized, b.clustering, b.betweenness_mode)),
          (SELECT n FROM written), 'and exactly the rows whose values changed');
SELECT is((SELECT count(*)::int FROM idgraph.services s, idgraph.centrality_of(s.service_id) c WHERE c.betweenness_stale), 0,
          'no service''s betweenness is stale after it, written or not');
SELECT is((SELECT count(*)::int FROM idgraph.services s, idgraph.centrality_of(s.service_id) c
            WHERE c.betweenness_version IS DISTINCT FROM (SELECT topology_version FROM idgraph.graph_state)), 0,
          'centrality_of reports the refresh''s version for every service');

-- The same values as a full recomputation into an empty table.
DELETE FROM before;
INSERT INTO before
  SELECT service_pk, ctid::text, service, in_degree, out_degree, degree, betweenness, betweenness_normalized,
         clustering, betweenness_mode FROM idgraph.centrality;
DELETE FROM idgraph.centrality;
SELECT is((SELECT (r ->> 'rows_written')::int FROM idgraph.refresh_centrality() r), 11, 'a refresh into an empty table writes all');
SELECT is((SELECT count(*)::int FROM idgraph.centrality c FULL JOIN before b USING (service_pk)
            WHERE (c.service, c.in_degree, c.out_degree, c.degree, c.betweenness, c.betweenness_normalized, c.clustering,
                   c.betweenness_mode)
                  IS DISTINCT FROM (b.service, b.in_degree, b.out_degree, b.degree, b.betweenness,
                                    b.betweenness_normalized, b.clustering, b.betweenness_mode)), 0,
          'the incremental write equals the full recomputation, row for row');

SELECT * FROM finish();
ROLLBACK;
