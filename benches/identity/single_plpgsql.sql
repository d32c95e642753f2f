-- (b) PL/pgSQL check-then-insert with an exception block (SEAD's approach).
SELECT bench_sead_allocate(:sub, 'bench_target', 'id', md5(random()::text), 'natural_key');
