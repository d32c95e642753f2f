-- idgraph latency + bytes bench: set up fresh in the bench database.
-- Run by benches/identity_latency/run.sh with psql -v ON_ERROR_STOP=1.
\set QUIET on
SET client_min_messages = warning;

-- The latency target: 20,000 committed ids to resolve, one pending submission to allocate into.
CREATE TABLE bench_target (id bigserial PRIMARY KEY, name text);
SELECT target_id FROM idgraph.register_target('public.bench_target', 'id') \gset
SELECT idgraph.create_submission('latency-bench-' || clock_timestamp()::text, 'bench', 'bench_target') AS sub \gset
SELECT idgraph.create_submission('latency-bench-seed-' || clock_timestamp()::text, 'bench', 'bench_target') AS seed_sub \gset
SELECT count(*) AS seeded FROM idgraph.allocate_batch(:'seed_sub', 'bench_target', 'id',
         ARRAY(SELECT md5('seed' || g) FROM generate_series(1, 10000) g), 'natural_key') \gset
SELECT count(*) AS seeded FROM idgraph.allocate_batch(:'seed_sub', 'bench_target', 'id',
         ARRAY(SELECT md5('seed' || g) FROM generate_series(10001, 20000) g), 'natural_key') \gset
SELECT count(*) AS committed FROM idgraph.commit_submission(:'seed_sub') \gset
CREATE TABLE bench_meta AS SELECT :'sub'::uuid AS submission_id, :target_id::integer AS target_id;

-- The bytes target: filled by run.sh with BENCH_ROWS allocations.
CREATE TABLE bench_bytes_target (id bigserial PRIMARY KEY, name text);
SELECT target_id AS bytes_target_id FROM idgraph.register_target('public.bench_bytes_target', 'id') \gset

-- Submissions whose commits are timed: n = 1 .. commits, filled by run.sh.
CREATE TABLE bench_commit_subs (n integer PRIMARY KEY, sub uuid NOT NULL);

VACUUM ANALYZE bench_target, idgraph.allocation_rows, idgraph.audit_log, idgraph.submissions, idgraph.targets;
