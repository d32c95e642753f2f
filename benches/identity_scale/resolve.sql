-- Resolution of an existing id of the grown target.
\set i random(1, :scale)
SELECT * FROM idgraph.resolve('bench_target', 'id', md5('fill' || :i), 'natural_key');
