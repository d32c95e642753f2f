-- (c) idgraph.allocate into the registered target, one pending submission.
SELECT * FROM idgraph.allocate(:sub, 'bench_target', 'id', md5(random()::text), 'natural_key');
