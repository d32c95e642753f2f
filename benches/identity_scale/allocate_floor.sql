-- The floor's single allocation of a new natural key (context for allocate.sql's throughput).
INSERT INTO bench_floor (ext, id) VALUES (md5(random()::text), nextval('bench_floor_seq'))
ON CONFLICT (ext) DO NOTHING RETURNING id;
