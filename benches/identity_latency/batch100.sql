-- A batch of 100 new random external ids (natural keys); generating them (md5 of random) is inside the timed statement.
SELECT count(*) FROM idgraph.allocate_batch(:sub, 'bench_target', 'id',
         ARRAY(SELECT md5(random()::text || g) FROM generate_series(1, 100) g), 'natural_key');
