-- (b) idgraph.allocate_batch of the same number of new ids.
SELECT * FROM idgraph.allocate_batch(:sub, 'bench_target', 'id',
         (SELECT b.ids FROM bench_batch_ids b WHERE b.scale = :scale AND b.run = :run AND b.who = 'idgraph'), 'natural_key');
