-- Grows both tables by the natural keys md5('fill' || i), i from :from to :to, in key order.
\set QUIET on
SET client_min_messages = warning;
SET work_mem = '256MB';
INSERT INTO bench_floor (id, ext)
SELECT nextval('bench_floor_seq'), k
  FROM (SELECT md5('fill' || i) AS k FROM generate_series(:from, :to) i ORDER BY 1) x;
INSERT INTO idgraph.allocation_rows (alloc_integer_id, target_id, submission_no, id_key, natural_key)
SELECT nextval(m.seq), m.target_id, m.fill_no, x.key, x.k
  FROM bench_meta m,
       (SELECT k, idgraph.external_id_key(k) AS key FROM (SELECT md5('fill' || i) AS k FROM generate_series(:from, :to) i) y
         ORDER BY 2) x;
