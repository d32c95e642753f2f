-- idgraph identity bench: the three contenders, set up fresh in the bench database.
-- Run by benches/identity/run.sh with psql -v ON_ERROR_STOP=1 -v batch_runs=N -v batch_size=M.
\set QUIET on
SET client_min_messages = warning;

-- (a) The floor: a bare INSERT … ON CONFLICT DO NOTHING RETURNING with a sequence.
DROP TABLE IF EXISTS bench_floor;
DROP SEQUENCE IF EXISTS bench_floor_seq;
CREATE SEQUENCE bench_floor_seq AS bigint;
CREATE TABLE bench_floor (
    id  bigint PRIMARY KEY,
    ext text NOT NULL UNIQUE
);

-- (b) A PL/pgSQL check-then-insert allocator with an exception block: the approach SEAD's
-- notes describe (SELECT the existing row; if none, INSERT inside BEGIN … EXCEPTION WHEN
-- unique_violation, i.e. one subtransaction per call). To be fair it takes the next id
-- from a sequence instead of SEAD's MAX(id)+1, and its table has SEAD's shape: the
-- (table, column, external_id) and (table, column, integer) unique keys plus the
-- submission/status columns. It writes no audit row and checks no submission.
DROP TABLE IF EXISTS bench_sead_allocations;
DROP SEQUENCE IF EXISTS bench_sead_seq;
CREATE SEQUENCE bench_sead_seq AS bigint;
CREATE TABLE bench_sead_allocations (
    allocation_uuid  uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    table_name       text NOT NULL,
    column_name      text NOT NULL,
    external_id      text NOT NULL,
    external_id_type text NOT NULL,
    alloc_integer_id bigint NOT NULL,
    submission_uuid  uuid NOT NULL,
    status           text NOT NULL DEFAULT 'allocated',
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       text NOT NULL DEFAULT current_user,
    UNIQUE (table_name, column_name, external_id),
    UNIQUE (table_name, column_name, alloc_integer_id)
);
CREATE OR REPLACE FUNCTION bench_sead_allocate(p_submission uuid, p_table text, p_column text,
                                               p_external_id text, p_external_id_type text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v bigint;
BEGIN
  SELECT a.alloc_integer_id INTO v FROM bench_sead_allocations a
   WHERE a.table_name = p_table AND a.column_name = p_column AND a.external_id = p_external_id;
  IF FOUND THEN
    RETURN v;
  END IF;
  BEGIN
    INSERT INTO bench_sead_allocations (table_name, column_name, external_id, external_id_type,
                                        alloc_integer_id, submission_uuid)
    VALUES (p_table, p_column, p_external_id, p_external_id_type, nextval('bench_sead_seq'), p_submission)
    RETURNING alloc_integer_id INTO v;
  EXCEPTION WHEN unique_violation THEN
    SELECT a.alloc_integer_id INTO v FROM bench_sead_allocations a
     WHERE a.table_name = p_table AND a.column_name = p_column AND a.external_id = p_external_id;
  END;
  RETURN v;
END
$$;

-- (c) idgraph: a registered target and one pending submission.
DROP TABLE IF EXISTS bench_target;
CREATE TABLE bench_target (
    id   bigserial PRIMARY KEY,
    name text
);
SELECT target_id FROM idgraph.register_target('public.bench_target', 'id') \gset
SELECT idgraph.create_submission('identity-bench-' || clock_timestamp()::text, 'bench', 'bench_target') AS sub \gset

DROP TABLE IF EXISTS bench_meta;
CREATE TABLE bench_meta AS SELECT :'sub'::uuid AS submission_id, :target_id::integer AS target_id;

-- Fresh external ids for the batch runs, generated up front so that generating them is
-- not timed: run r of contender who gets its own :batch_size new ids.
DROP TABLE IF EXISTS bench_batch_ids;
CREATE TABLE bench_batch_ids AS
SELECT r AS run, w AS who,
       (SELECT array_agg(md5(random()::text || clock_timestamp()::text || r || w || g)) FROM generate_series(1, :batch_size) g) AS ids
  FROM generate_series(1, :batch_runs) r, unnest(ARRAY['floor', 'idgraph']) w;
ALTER TABLE bench_batch_ids ADD PRIMARY KEY (run, who);
-- Keep the arrays inline-compressible but read them the same way for both contenders.

-- Seed every contender's table with the same 20,000 rows before measuring, then ANALYZE:
-- on freshly created, empty tables the cached generic plans (PL/pgSQL's and idgraph's)
-- are made for empty tables and stay seq scans while the table grows, which measured the
-- plans, not the allocators.
INSERT INTO bench_floor SELECT nextval('bench_floor_seq'), md5('seed' || g) FROM generate_series(1, 20000) g;
INSERT INTO bench_sead_allocations (table_name, column_name, external_id, external_id_type, alloc_integer_id, submission_uuid)
SELECT 'bench_target', 'id', md5('seed' || g), 'natural_key', nextval('bench_sead_seq'), :'sub'
  FROM generate_series(1, 20000) g;
SELECT idgraph.create_submission('identity-bench-seed-' || clock_timestamp()::text, 'bench', 'bench_target') AS seed_sub \gset
SELECT count(*) AS seeded FROM idgraph.allocate_batch(:'seed_sub', 'bench_target', 'id',
         ARRAY(SELECT md5('seed' || g) FROM generate_series(1, 10000) g), 'natural_key') \gset
SELECT count(*) AS seeded FROM idgraph.allocate_batch(:'seed_sub', 'bench_target', 'id',
         ARRAY(SELECT md5('seed' || g) FROM generate_series(10001, 20000) g), 'natural_key') \gset
SELECT count(*) AS committed FROM idgraph.commit_submission(:'seed_sub') \gset

VACUUM ANALYZE bench_floor, bench_sead_allocations, bench_target, bench_batch_ids,
               idgraph.allocation_rows, idgraph.audit_log, idgraph.submissions, idgraph.targets;
