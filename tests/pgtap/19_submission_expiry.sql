-- Submission expiry: pending submissions older than an age are listed, expired (rolled
-- back with reason 'expired', audited) by admins, and counted for /metrics.
BEGIN;
SELECT plan(19);

-- Load the library, so that its settings are defined in this session.
DO $$ BEGIN PERFORM idgraph.normalize_external_id('x', 'natural_key'); END $$;
SELECT is(idgraph._submission_expiry_age(), interval '7 days', 'the default expiry age is 7 days (idgraph.submission_expiry_age)');
SELECT is(current_setting('idgraph.submission_expiry_enabled'), 'off', 'automatic expiry is off by default');

CREATE SCHEMA idg_t19;
CREATE TABLE idg_t19.tbl (id integer PRIMARY KEY);
SELECT lives_ok($$SELECT idgraph.register_target('idg_t19.tbl', 'id')$$, 'target registered');
SELECT lives_ok($$SELECT idgraph.ensure_submission('19191919-0000-4000-8000-000000000001', 't19-old')$$, 'an old submission');
SELECT lives_ok($$SELECT idgraph.ensure_submission('19191919-0000-4000-8000-000000000002', 't19-young')$$, 'a young one');
SELECT lives_ok($$SELECT idgraph.ensure_submission('19191919-0000-4000-8000-000000000003', 't19-old-committed')$$, 'an old committed one');
SELECT lives_ok($$SELECT * FROM idgraph.allocate_batch('19191919-0000-4000-8000-000000000001', 'idg_t19.tbl', 'id',
                                                       ARRAY['k1', 'k2'], 'natural_key')$$, 'the old one allocated two ids');
SELECT lives_ok($$SELECT * FROM idgraph.commit_submission('19191919-0000-4000-8000-000000000003')$$, 'committed');
UPDATE idgraph.submissions SET created_at = now() - interval '8 days'
 WHERE submission_id IN ('19191919-0000-4000-8000-000000000001', '19191919-0000-4000-8000-000000000003');
UPDATE idgraph.submissions SET created_at = now() - interval '1 minute'
 WHERE submission_id = '19191919-0000-4000-8000-000000000002';

SELECT results_eq($$SELECT submission_name, pending_allocations FROM idgraph.expired_submissions()
                     WHERE submission_name LIKE 't19-%'$$,
                  $$VALUES ('t19-old'::text, 2::bigint)$$,
                  'expired_submissions(): only the pending one past 7 days, with its pending allocations');
SELECT is((SELECT count(*)::int FROM idgraph.expired_submissions(interval '30 seconds') WHERE submission_name LIKE 't19-%'), 2,
          'with an age of 30 seconds the minute-old pending one is listed too');
SELECT throws_ok($$SELECT * FROM idgraph.expired_submissions(interval '-1 day')$$, '22023', NULL, 'a negative age -> 22023');
SELECT throws_ok($$SELECT * FROM idgraph.expire_submissions(NULL, 0)$$, '22023', NULL, 'a limit of 0 -> 22023');

SELECT results_eq($$SELECT pending >= 2, expired >= 1 FROM idgraph.submission_expiry_status()$$,
                  $$VALUES (true, true)$$, 'submission_expiry_status() counts pending and expired submissions');

SELECT results_eq($$SELECT submission_name, allocations_rolled_back FROM idgraph.expire_submissions()
                     WHERE submission_name LIKE 't19-%'$$,
                  $$VALUES ('t19-old'::text, 2::bigint)$$, 'expire_submissions() rolls back the expired one');
SELECT results_eq($$SELECT status, rollback_reason FROM idgraph.submissions
                     WHERE submission_id = '19191919-0000-4000-8000-000000000001'$$,
                  $$VALUES ('rolled_back'::text, 'expired'::text)$$, 'rolled back with reason expired');
SELECT is((SELECT detail ->> 'reason' FROM idgraph.audit_log
            WHERE submission_id = '19191919-0000-4000-8000-000000000001' AND action = 'rollback'), 'expired',
          'and audited as a rollback');
SELECT is((SELECT status FROM idgraph.submissions WHERE submission_id = '19191919-0000-4000-8000-000000000002'), 'pending',
          'the young one stays pending');

-- Boundaries from the wrong side.
SET LOCAL ROLE idgraph_writer;
SELECT throws_ok($$SELECT * FROM idgraph.expire_submissions()$$, '42501', NULL, 'a writer may not expire submissions');
RESET ROLE;
SET LOCAL ROLE idgraph_reader;
SELECT throws_ok($$SELECT * FROM idgraph.expired_submissions()$$, '42501', NULL, 'a reader may not list them');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
