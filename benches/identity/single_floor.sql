-- (a) the floor: one new random external id per transaction.
INSERT INTO bench_floor (ext, id) VALUES (md5(random()::text), nextval('bench_floor_seq'))
ON CONFLICT (ext) DO NOTHING RETURNING id;
