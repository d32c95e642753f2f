-- sead_utility compatibility wrappers, called the way SEAD's pipelines call them: with
-- unqualified table names resolved on the caller's search_path.
BEGIN;
SELECT plan(12);

CREATE SCHEMA idg_t15;
CREATE TABLE idg_t15.tbl_sites (site_id integer PRIMARY KEY, name text);
INSERT INTO idg_t15.tbl_sites VALUES (7, 'existing');
SELECT lives_ok($$SELECT idgraph.register_target('idg_t15.tbl_sites', 'site_id')$$, 'target registered');
SET LOCAL search_path = idg_t15, public;

SELECT is(sead_utility.allocate_identity('15151515-0000-4000-8000-000000000001', 'sites-15', 'tbl_sites', 'site_id',
                                         'a3e4c1d2-0000-4000-8000-000000000001'),
          8, 'allocate_identity with an unqualified table name starts above max(site_id) = 7');
SELECT is(sead_utility.resolve_external_id('tbl_sites', 'site_id', 'a3e4c1d2-0000-4000-8000-000000000001'), 8,
          'resolve_external_id resolves an unqualified table name on the caller''s search_path');
SELECT is(sead_utility.resolve_external_id('idg_t15.tbl_sites', 'site_id', 'A3E4C1D2-0000-4000-8000-000000000001'), 8,
          'and a schema-qualified one, with the UUID in another spelling');
SELECT results_eq(
  $$SELECT external_id, alloc_integer_id, is_new_allocation
      FROM sead_utility.allocate_identity_batch('15151515-0000-4000-8000-000000000001', 'sites-15', 'tbl_sites', 'site_id',
             '[{"external_id": "a3e4c1d2-0000-4000-8000-000000000002"},
               {"external_id": "a3e4c1d2-0000-4000-8000-000000000001"},
               {"external_id": "a3e4c1d2-0000-4000-8000-000000000003", "content_hash": "h3"}]')$$,
  $$VALUES ('a3e4c1d2-0000-4000-8000-000000000002', 9, true),
           ('a3e4c1d2-0000-4000-8000-000000000001', 8, false),
           ('a3e4c1d2-0000-4000-8000-000000000003', 10, true)$$,
  'allocate_identity_batch with an unqualified name: input order, existing id kept, new ids above');
SELECT is(sead_utility.detect_change('tbl_sites', 'a3e4c1d2-0000-4000-8000-000000000003', 'h3'), 'skip',
          'detect_change with an unqualified name: same hash -> skip');
SELECT is(sead_utility.detect_change('tbl_sites', 'a3e4c1d2-0000-4000-8000-000000000003', 'h4'), 'update',
          'a different hash -> update');
SELECT is(sead_utility.detect_change('tbl_sites', 'a3e4c1d2-0000-4000-8000-0000000000ff', 'h'), 'insert',
          'an unknown id -> insert');
SELECT lives_ok($$SELECT sead_utility.commit_submission('15151515-0000-4000-8000-000000000001', 'CR-15')$$,
                'commit_submission');
SELECT is((SELECT status FROM idgraph.submission('15151515-0000-4000-8000-000000000001')), 'committed',
          'the submission is committed');

-- A name that does not resolve on the caller's path is still a clear error.
SET LOCAL search_path = public;
SELECT throws_ok($$SELECT sead_utility.resolve_external_id('tbl_sites', 'site_id', 'a3e4c1d2-0000-4000-8000-000000000001')$$,
                 '42704', NULL, 'an unqualified name off the caller''s search_path -> 42704');
SELECT throws_ok($$SELECT sead_utility.rollback_submission('15151515-0000-4000-8000-000000000001')$$,
                 '55000', NULL, 'rolling back a committed submission -> 55000');

SELECT * FROM finish();
ROLLBACK;
