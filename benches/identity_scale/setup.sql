-- identity_scale bench: the floor's table, the idgraph target, a committed submission that
-- owns the grown rows, a pending one for the measured allocations, and every batch's ids.
\set QUIET on
SET client_min_messages = warning;
CREATE SEQUENCE bench_floor_seq AS bigint;
CREATE TABLE bench_floor (
    id  bigint PRIMARY KEY,
    ext text NOT NULL UNIQUE
);
CREATE TABLE bench_target (id bigserial PRIMARY KEY);
SELECT target_id FROM idgraph.register_target('public.bench_target', 'id') \gset
SELECT idgraph.create_submission('scale-fill', 'bench', 'bench_target') AS fill \gset
SELECT idgraph.create_submission('scale-measured', 'bench', 'bench_target') AS pending \gset
SELECT count(*) FROM idgraph.commit_submission(:'fill');
CREATE TABLE bench_meta AS
SELECT :target_id::integer AS target_id, :'fill'::uuid AS fill, :'pending'::uuid AS pending,
       (SELECT submission_no FROM idgraph.submissions WHERE submission_id = :'fill') AS fill_no,
       (SELECT alloc_seq FROM idgraph.targets WHERE target_id = :target_id) AS seq;
-- New natural keys for every batch (scale, run, contender), made up front.
CREATE TABLE bench_batch_ids (scale bigint, run integer, who text, ids text[], PRIMARY KEY (scale, run, who));
INSERT INTO bench_batch_ids
SELECT s, r, w, ARRAY(SELECT md5(format('batch-%s-%s-%s-%s', s, r, w, i)) FROM generate_series(1, 10000) i)
  FROM unnest(string_to_array(:'scales', ' ')::bigint[]) s, generate_series(1, :runs) r, unnest(ARRAY['floor', 'idgraph']) w;
