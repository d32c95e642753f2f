-- (a) the floor's one-statement insert of a batch of new ids.
INSERT INTO bench_floor (ext, id)
SELECT x, nextval('bench_floor_seq')
  FROM unnest((SELECT b.ids FROM bench_batch_ids b WHERE b.scale = :scale AND b.run = :run AND b.who = 'floor')) x
ON CONFLICT DO NOTHING RETURNING id;
