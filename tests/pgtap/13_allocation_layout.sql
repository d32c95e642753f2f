-- The allocation layout (issue 9): a 16-byte key per external id, the owner by number, no
-- per-row status. Commit and rollback write the submission's row, not its allocations;
-- an id whose key is another id's is refused, never merged.
BEGIN;
SELECT plan(22);

CREATE TABLE public.t_layout (id integer PRIMARY KEY);
SELECT lives_ok($$SELECT idgraph.register_target('public.t_layout', 'id')$$, 'target registered');
CREATE TEMP TABLE subs AS
SELECT idgraph.create_submission('layout-A', 'test', 'x') AS a, idgraph.create_submission('layout-B', 'test', 'x') AS b,
       idgraph.create_submission('layout-C', 'test', 'x') AS c;
GRANT SELECT ON subs TO PUBLIC;

-- Keys: a canonical uuid is its own key; a natural key a version-8 uuid of its sha256.
SELECT is(idgraph.external_id_key('a3e4f567-e89b-12d3-a456-426614174001'), 'a3e4f567-e89b-12d3-a456-426614174001'::uuid,
          'a canonical uuid is its own key');
SELECT is(substr(idgraph.external_id_key('SITE-1')::text, 15, 1), '8', 'a natural key''s key is a version-8 uuid');
SELECT is(idgraph.external_id_key('SITE-1'),
          encode(set_byte(set_byte(substr(sha256('idgraph.external_id:SITE-1'::bytea), 1, 16), 6,
                                   (get_byte(sha256('idgraph.external_id:SITE-1'::bytea), 6) & 15) | 128),
                          8, (get_byte(sha256('idgraph.external_id:SITE-1'::bytea), 8) & 63) | 128), 'hex')::uuid,
          'it is the first 16 bytes of sha256(''idgraph.external_id:'' || key), version and variant set');
SELECT is(idgraph.external_id_keys(ARRAY['SITE-1', NULL]), ARRAY[idgraph.external_id_key('SITE-1'), NULL],
          'external_id_keys maps an array, NULL stays NULL');

-- Allocation through the view's eyes: the same external id, type and status as ever.
SELECT is((SELECT count(*)::int FROM idgraph.allocate_batch((SELECT a FROM subs), 't_layout', 'id',
                                                            ARRAY['{B3E4F567-E89B-12D3-A456-426614174009}', 'b3e4f567-e89b-12d3-a456-42661417400a'])), 2,
          'A allocates two uuids');
SELECT is((SELECT is_new FROM idgraph.allocate((SELECT a FROM subs), 't_layout', 'id', 'NK-1', 'natural_key')), true,
          'A allocates a natural key');
SELECT results_eq(
  $$SELECT a.external_id, a.external_id_type, a.status FROM idgraph.allocations a JOIN idgraph.targets t USING (target_id)
     WHERE t.table_oid = 'public.t_layout'::regclass ORDER BY 1$$,
  $$VALUES ('NK-1', 'natural_key', 'allocated'), ('b3e4f567-e89b-12d3-a456-426614174009', 'uuid', 'allocated'),
           ('b3e4f567-e89b-12d3-a456-42661417400a', 'uuid', 'allocated')$$,
  'the view shows the normalized ids, their types, allocated while A is pending');
SELECT is((SELECT natural_key IS NULL FROM idgraph.allocation_rows
            WHERE id_key = 'b3e4f567-e89b-12d3-a456-426614174009'), true,
          'a uuid is stored as its 16 bytes alone (no text)');

-- Commit writes no allocation row: their xmin stays the allocating transaction's.
CREATE TEMP TABLE before_commit AS
SELECT r.id_key, r.ctid::text AS tid FROM idgraph.allocation_rows r
  JOIN idgraph.targets t USING (target_id) WHERE t.table_oid = 'public.t_layout'::regclass;
SAVEPOINT before_commit;
SELECT is((SELECT allocations_committed FROM idgraph.commit_submission((SELECT a FROM subs))), 3::bigint,
          'A''s commit commits its three allocations');
SELECT is((SELECT count(*)::int FROM idgraph.allocation_rows r JOIN before_commit b USING (id_key)
            WHERE r.ctid::text = b.tid), 3,
          'and rewrites none of their rows (same tuples)');
SELECT is((SELECT count(*)::int FROM idgraph.allocations a JOIN idgraph.targets t USING (target_id)
            WHERE t.table_oid = 'public.t_layout'::regclass AND a.status = 'committed' AND a.committed_at IS NOT NULL), 3,
          'all three read as committed, with the submission''s commit time');
ROLLBACK TO SAVEPOINT before_commit;

-- Rollback writes none either; the integers stay reserved and come back to the next submission.
SELECT is((SELECT allocations_affected FROM idgraph.rollback_submission((SELECT a FROM subs))), 3::bigint,
          'A''s rollback rolls back three allocations');
SELECT is((SELECT count(*)::int FROM idgraph.allocation_rows r JOIN before_commit b USING (id_key)
            WHERE r.ctid::text = b.tid), 3,
          'without rewriting their rows');
SELECT is((SELECT status FROM idgraph.resolve('t_layout', 'id', 'NK-1', 'natural_key')), 'rolled_back',
          'resolve reads rolled_back from the owner');
SELECT is((SELECT is_new FROM idgraph.allocate((SELECT b FROM subs), 't_layout', 'id', 'NK-1', 'natural_key')), true,
          'B revives NK-1 (new again, same integer)');
SELECT is((SELECT status || ' ' || (submission_id = (SELECT b FROM subs))::text
             FROM idgraph.resolve('t_layout', 'id', 'NK-1', 'natural_key')), 'allocated true',
          'NK-1 is B''s and pending');
SELECT is((SELECT external_id FROM idgraph.resolve_integer('t_layout', 'id',
             (SELECT alloc_integer_id FROM idgraph.resolve('t_layout', 'id', 'NK-1', 'natural_key')))), 'NK-1',
          'resolve_integer finds it by integer (BRIN)');

-- A uuid crafted to be a natural key's key: refused, never merged with NK-1.
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_layout', 'id', %L, 'uuid')$$,
                        (SELECT c FROM subs), idgraph.external_id_key('NK-1')),
                 '23505', NULL, 'a uuid equal to a natural key''s key is refused (23505), one call');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_layout', 'id', ARRAY[%L, 'c3e4f567-e89b-12d3-a456-42661417400b'], 'uuid')$$,
                        (SELECT c FROM subs), idgraph.external_id_key('NK-1')),
                 '23505', NULL, 'and in a batch');
SELECT is((SELECT count(*)::int FROM idgraph.allocations WHERE external_id = 'c3e4f567-e89b-12d3-a456-42661417400b'), 0,
          'the refused batch wrote nothing');
SELECT is((SELECT alloc_integer_id FROM idgraph.resolve_batch('t_layout', 'id', ARRAY[idgraph.external_id_key('NK-1')::text], 'uuid')),
          NULL::bigint, 'resolve_batch does not answer NK-1''s integer for its key');

SELECT * FROM finish();
ROLLBACK;
