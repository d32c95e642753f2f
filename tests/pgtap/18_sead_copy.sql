-- The COPY door of seed 000 §1.4: COPY sead_utility.identity_allocations (...) FROM STDIN
-- allocates as idgraph.allocate_batch does, atomically, and the relation reads back in
-- SEAD's column names.
BEGIN;
SELECT plan(20);

CREATE SCHEMA idg_t18;
CREATE TABLE idg_t18.tbl_sites (site_id integer PRIMARY KEY);
INSERT INTO idg_t18.tbl_sites VALUES (100);
CREATE TABLE idg_t18.tbl_samples (sample_id bigint PRIMARY KEY);
SELECT lives_ok($$SELECT idgraph.register_target('idg_t18.tbl_sites', 'site_id')$$, 'sites registered');
SELECT lives_ok($$SELECT idgraph.register_target('idg_t18.tbl_samples', 'sample_id')$$, 'samples registered');
SET LOCAL search_path = idg_t18, public;
SELECT lives_ok($$SELECT idgraph.ensure_submission('18181818-0000-4000-8000-000000000001', 'copy-18')$$, 'a submission');

-- The seed's loader: uuid ids, a natural key, a duplicate, two targets, one statement.
COPY sead_utility.identity_allocations (submission_uuid, table_name, column_name, external_id, external_id_type) FROM STDIN;
18181818-0000-4000-8000-000000000001	tbl_sites	site_id	a3e4c1d2-0000-4000-8000-000000000001	uuid
18181818-0000-4000-8000-000000000001	tbl_sites	site_id	A3E4C1D2-0000-4000-8000-000000000002	\N
18181818-0000-4000-8000-000000000001	tbl_sites	site_id	a3e4c1d2-0000-4000-8000-000000000001	uuid
18181818-0000-4000-8000-000000000001	tbl_sites	site_id	SITE-ABC	natural_key
18181818-0000-4000-8000-000000000001	tbl_samples	sample_id	b3e4c1d2-0000-4000-8000-000000000001	uuid
\.

SELECT results_eq(
  $$SELECT table_name, column_name, external_id, external_id_type, alloc_integer_id, submission_uuid, submission_name, status
      FROM sead_utility.identity_allocations WHERE submission_uuid = '18181818-0000-4000-8000-000000000001'
     ORDER BY table_name, alloc_integer_id$$,
  $$VALUES ('tbl_samples', 'sample_id', 'b3e4c1d2-0000-4000-8000-000000000001', 'uuid', 1::bigint,
            '18181818-0000-4000-8000-000000000001'::uuid, 'copy-18', 'allocated'),
           ('tbl_sites', 'site_id', 'SITE-ABC', 'natural_key', 101::bigint,
            '18181818-0000-4000-8000-000000000001'::uuid, 'copy-18', 'allocated'),
           ('tbl_sites', 'site_id', 'a3e4c1d2-0000-4000-8000-000000000001', 'uuid', 102::bigint,
            '18181818-0000-4000-8000-000000000001'::uuid, 'copy-18', 'allocated'),
           ('tbl_sites', 'site_id', 'a3e4c1d2-0000-4000-8000-000000000002', 'uuid', 103::bigint,
            '18181818-0000-4000-8000-000000000001'::uuid, 'copy-18', 'allocated')$$,
  'COPY allocated each distinct id once (normalized, duplicates share), per target and type, above max(site_id)');
SELECT is((SELECT count(*)::int FROM idgraph.audit_log WHERE submission_id = '18181818-0000-4000-8000-000000000001'
            AND action = 'allocate_batch'), 3, 'one allocate_batch call (and audit row) per target and id type');
SELECT results_eq(
  $$SELECT array_agg(attname::text COLLATE "default" ORDER BY attnum) FROM pg_attribute
     WHERE attrelid = 'sead_utility.identity_allocations'::regclass AND attnum > 0$$,
  $$VALUES (ARRAY['allocation_uuid', 'table_name', 'column_name', 'external_id', 'external_id_type', 'alloc_integer_id',
                  'submission_uuid', 'submission_name', 'change_request_id', 'external_system_id', 'external_data',
                  'content_hash', 'created_at', 'created_by', 'status', 'committed_at'])$$,
  'the relation has seed 000''s column names, in its order');
SELECT is((SELECT count(DISTINCT allocation_uuid)::int FROM sead_utility.identity_allocations
            WHERE submission_uuid = '18181818-0000-4000-8000-000000000001'), 4, 'allocation_uuid is one per allocation');

-- The seed's own column list (with alloc_integer_id and status), loading again: idempotent.
COPY sead_utility.identity_allocations (submission_uuid, table_name, column_name, external_id, alloc_integer_id, status) FROM STDIN WITH (FORMAT CSV);
18181818-0000-4000-8000-000000000001,tbl_sites,site_id,a3e4c1d2-0000-4000-8000-000000000001,102,allocated
18181818-0000-4000-8000-000000000001,tbl_sites,site_id,a3e4c1d2-0000-4000-8000-000000000003,,allocated
\.
SELECT is((SELECT alloc_integer_id FROM sead_utility.identity_allocations
            WHERE table_name = 'tbl_sites' AND external_id = 'a3e4c1d2-0000-4000-8000-000000000003'), 104::bigint,
          'the seed''s CSV form: a matching alloc_integer_id is accepted, an empty one assigned');

-- A submission named in the load is created on first use.
INSERT INTO sead_utility.identity_allocations (submission_uuid, submission_name, table_name, column_name, external_id, content_hash)
VALUES ('18181818-0000-4000-8000-000000000002', 'copy-18-new', 'tbl_sites', 'site_id', 'c3e4c1d2-0000-4000-8000-000000000001', 'h1');
SELECT results_eq($$SELECT s.status, a.content_hash FROM idgraph.submissions s
                      JOIN sead_utility.identity_allocations a ON a.submission_uuid = s.submission_id
                     WHERE s.submission_name = 'copy-18-new'$$,
                  $$VALUES ('pending'::text, 'h1'::text)$$, 'INSERT with submission_name creates the submission; hash kept');

-- Refusals: specific SQLSTATEs, nothing written.
SELECT throws_ok($$INSERT INTO sead_utility.identity_allocations (submission_uuid, table_name, column_name, external_id, alloc_integer_id)
                   VALUES ('18181818-0000-4000-8000-000000000001', 'tbl_sites', 'site_id', 'd3e4c1d2-0000-4000-8000-000000000001', NULL),
                          ('18181818-0000-4000-8000-000000000001', 'tbl_sites', 'site_id', 'a3e4c1d2-0000-4000-8000-000000000001', 999)$$,
                 '22023', NULL, 'a supplied alloc_integer_id that differs from the id''s integer -> 22023');
SELECT is((SELECT count(*)::int FROM sead_utility.identity_allocations WHERE external_id = 'd3e4c1d2-0000-4000-8000-000000000001'), 0,
          'and the other row of that statement was not allocated (all or nothing)');
SELECT throws_ok($$INSERT INTO sead_utility.identity_allocations (submission_uuid, table_name, column_name, external_id)
                   VALUES ('18181818-0000-4000-8000-000000000001', 'tbl_sites', 'site_id', 'not-a-uuid')$$,
                 '22023', NULL, 'a malformed uuid -> 22023');
SELECT throws_ok($$INSERT INTO sead_utility.identity_allocations (submission_uuid, table_name, column_name, external_id)
                   VALUES ('18181818-0000-4000-8000-000000000001', 'tbl_sites', 'site_id', NULL)$$,
                 '22004', NULL, 'a NULL external id -> 22004');
SELECT throws_ok($$INSERT INTO sead_utility.identity_allocations (submission_uuid, table_name, column_name, external_id, status)
                   VALUES ('18181818-0000-4000-8000-000000000001', 'tbl_sites', 'site_id', 'e3e4c1d2-0000-4000-8000-000000000001', 'committed')$$,
                 '22023', NULL, 'a status other than allocated -> 22023');
SELECT throws_ok($$INSERT INTO sead_utility.identity_allocations (submission_uuid, table_name, column_name, external_id, external_data)
                   VALUES ('18181818-0000-4000-8000-000000000001', 'tbl_sites', 'site_id', 'e3e4c1d2-0000-4000-8000-000000000001', '{}')$$,
                 '0A000', NULL, 'a column the door does not load -> 0A000');
SELECT throws_ok($$INSERT INTO sead_utility.identity_allocations (submission_uuid, table_name, column_name, external_id)
                   VALUES ('18181818-0000-4000-8000-0000000000ff', 'tbl_sites', 'site_id', 'e3e4c1d2-0000-4000-8000-000000000001')$$,
                 'P0002', NULL, 'an unknown submission -> P0002');
SELECT throws_ok($$INSERT INTO sead_utility.identity_allocations (submission_uuid, table_name, column_name, external_id)
                   VALUES ('18181818-0000-4000-8000-000000000001', 'tbl_sites', 'name', 'e3e4c1d2-0000-4000-8000-000000000001')$$,
                 '42704', NULL, 'an unregistered target -> 42704');

-- Boundaries from the wrong side.
SET LOCAL ROLE idgraph_reader;
SELECT lives_ok($$SELECT count(*) FROM sead_utility.identity_allocations$$, 'a reader reads the relation');
SELECT throws_ok($$INSERT INTO sead_utility.identity_allocations (submission_uuid, table_name, column_name, external_id)
                   VALUES ('18181818-0000-4000-8000-000000000001', 'tbl_sites', 'site_id', 'f3e4c1d2-0000-4000-8000-000000000001')$$,
                 '42501', NULL, 'a reader loading into it -> 42501');
RESET ROLE;
CREATE ROLE idg_t18_nobody NOLOGIN;
SET LOCAL ROLE idg_t18_nobody;
SELECT throws_ok($$SELECT count(*) FROM sead_utility.identity_allocations$$, '42501', NULL,
                 'a role outside idgraph''s may not read it');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
