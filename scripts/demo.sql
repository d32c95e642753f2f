-- A small demo: a registered target with existing rows and a submission with allocations.
-- Re-running it changes nothing (allocation is idempotent).
CREATE SCHEMA IF NOT EXISTS demo;
CREATE TABLE IF NOT EXISTS demo.tbl_sites (site_id serial PRIMARY KEY, site_name text NOT NULL);
INSERT INTO demo.tbl_sites (site_name)
SELECT 'legacy site ' || g FROM generate_series(1, 20) g
WHERE NOT EXISTS (SELECT 1 FROM demo.tbl_sites);
SELECT target_id, table_name, column_name, next_id FROM idgraph.register_target('demo.tbl_sites', 'site_id');
SELECT idgraph.ensure_submission('0b7e2d4c-5a1f-4e3b-9c8d-7f6a5b4c3d2e', 'demo-sites-1', 'demo', 'sites');
SELECT * FROM idgraph.allocate_batch('0b7e2d4c-5a1f-4e3b-9c8d-7f6a5b4c3d2e', 'demo.tbl_sites', 'site_id',
  ARRAY['a3e4f567-e89b-12d3-a456-426614174001', 'b3e4f567-e89b-12d3-a456-426614174002',
        'c3e4f567-e89b-12d3-a456-426614174003'])
WHERE (SELECT status FROM idgraph.submissions WHERE submission_id = '0b7e2d4c-5a1f-4e3b-9c8d-7f6a5b4c3d2e') = 'pending';
