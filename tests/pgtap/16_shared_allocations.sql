-- An id one pending submission allocated and another one used: the owner's rollback must
-- not un-reserve an integer that the other submission's (committed) data refers to.
BEGIN;
SELECT plan(13);

CREATE TABLE public.t_shared (id integer PRIMARY KEY);
SELECT lives_ok($$SELECT idgraph.register_target('public.t_shared', 'id')$$, 'target registered');
CREATE TEMP TABLE subs AS
SELECT idgraph.create_submission('A', 'test', 'x') AS a, idgraph.create_submission('B', 'test', 'x') AS b,
       idgraph.create_submission('C', 'test', 'x') AS c, idgraph.create_submission('D', 'test', 'x') AS d;
GRANT SELECT ON subs TO PUBLIC;

-- Case 1: A allocates K, B uses K and commits, A rolls back: K stays committed.
SELECT is((SELECT is_new FROM idgraph.allocate((SELECT a FROM subs), 't_shared', 'id', 'k1', 'natural_key')), true,
          'A allocates k1');
SELECT is((SELECT is_new FROM idgraph.allocate((SELECT b FROM subs), 't_shared', 'id', 'k1', 'natural_key')), false,
          'B uses k1 (not new)');
SELECT is((SELECT allocations_committed FROM idgraph.commit_submission((SELECT b FROM subs))), 1::bigint,
          'B''s commit commits the shared k1');
SELECT lives_ok($$SELECT idgraph.rollback_submission((SELECT a FROM subs))$$, 'A rolls back');
SELECT is((SELECT status FROM idgraph.resolve('t_shared', 'id', 'k1', 'natural_key')), 'committed',
          'k1 stays committed after A''s rollback');
SELECT is(idgraph.detect_change('t_shared', 'id', 'k1', 'h', 'natural_key'), 'update',
          'detect_change does not call k1 new');

-- Case 2: C allocates (batch), D uses them (batch) and is still pending, C rolls back:
-- they are handed over to D, still allocated, and D's rollback finally rolls them back.
SELECT is((SELECT count(*) FILTER (WHERE is_new)::int
             FROM idgraph.allocate_batch((SELECT c FROM subs), 't_shared', 'id', ARRAY['k2', 'k3'], 'natural_key')), 2,
          'C allocates k2, k3');
SELECT is((SELECT count(*) FILTER (WHERE NOT is_new)::int
             FROM idgraph.allocate_batch((SELECT d FROM subs), 't_shared', 'id', ARRAY['k3', 'k2'], 'natural_key')), 2,
          'D uses k2, k3');
SELECT lives_ok($$SELECT idgraph.rollback_submission((SELECT c FROM subs))$$, 'C rolls back');
SELECT results_eq(
  $$SELECT a.status, a.submission_id = (SELECT d FROM subs) FROM idgraph.allocations a
      JOIN idgraph.targets t USING (target_id)
     WHERE t.table_oid = 'public.t_shared'::regclass AND a.external_id IN ('k2', 'k3') ORDER BY a.external_id$$,
  $$VALUES ('allocated', true), ('allocated', true)$$,
  'C''s rollback hands k2, k3 over to the pending D');
SELECT is((SELECT allocations_affected FROM idgraph.rollback_submission((SELECT d FROM subs))), 2::bigint,
          'D''s rollback then rolls them back');
SELECT is(idgraph.verify_audit(), true, 'the audit trail is intact');

SELECT * FROM finish();
ROLLBACK;
