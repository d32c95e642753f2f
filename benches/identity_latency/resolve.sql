-- Resolve one of the 20,000 committed seed ids, picked at random.
\set g random(1, 20000)
SELECT * FROM idgraph.resolve('bench_target', 'id', md5('seed' || :g), 'natural_key');
