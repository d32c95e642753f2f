-- NULL arguments to the graph and centrality functions get 22004, never an internal error.
BEGIN;
SELECT plan(6);
SELECT throws_ok($$SELECT idgraph.composite_availability(NULL)$$, '22004', NULL,
                 'composite_availability(NULL) -> 22004');
SELECT throws_ok($$SELECT idgraph.composite_availability(NULL, 0.999)$$, '22004', NULL,
                 'composite_availability(NULL, target) -> 22004');
SELECT throws_ok($$SELECT idgraph.refresh_centrality(NULL)$$, '22004', NULL,
                 'refresh_centrality(NULL) -> 22004');
SELECT throws_ok($$SELECT idgraph.refresh_centrality(NULL, 10)$$, '22004', NULL,
                 'refresh_centrality(NULL, k) -> 22004');
SELECT throws_ok($$SELECT idgraph.mark_stale(NULL)$$, '22004', NULL, 'mark_stale(NULL) -> 22004');
SELECT throws_ok($$SELECT * FROM idgraph.acknowledge_cycle(NULL)$$, '22004', NULL,
                 'acknowledge_cycle(NULL) -> 22004');
SELECT * FROM finish();
ROLLBACK;
