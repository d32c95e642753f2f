-- Single allocation of a new natural key into the pending submission.
SELECT * FROM idgraph.allocate(:sub, 'bench_target', 'id', md5(random()::text), 'natural_key');
