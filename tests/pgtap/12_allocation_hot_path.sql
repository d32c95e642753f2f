-- The allocation hot path (issue 9, speed): what idgraph._allocate does differently from
-- the generic paths, and that it keeps every guarantee they give.
--   * its audit row's hash is computed in its INSERT (the trigger runs only for rows that
--     come without one): byte for byte what idgraph._audit_row_hash gives, for awkward
--     actors, ids and outcomes;
--   * the submission is held by its heavyweight lock in share mode, not by a row lock:
--     the submission row is not written by an allocation.
BEGIN;
SELECT plan(12);

CREATE TABLE public.t_hot (id bigserial PRIMARY KEY);
SELECT * FROM idgraph.register_target('public.t_hot', 'id');
SELECT idgraph.create_submission('hot-path', 'pgtap', 'hot') AS sub \gset
SELECT idgraph.create_submission('hot-path-other', 'pgtap', 'hot') AS other \gset

-- Allocations of every kind: new, again (not new), natural keys with separators and
-- non-ASCII letters, under a principal whose name is awkward, a shared id (another
-- submission's pending one), a content hash that changes.
SELECT idgraph.set_principal('key:hot|path', 'team-x');
SELECT * FROM idgraph.allocate(:'sub', 't_hot', 'id', 'a3e4f567-e89b-12d3-a456-426614174001');
SELECT * FROM idgraph.allocate(:'sub', 't_hot', 'id', 'A3E4F567-E89B-12D3-A456-426614174001');
SELECT * FROM idgraph.allocate(:'sub', 't_hot', 'id', ' Ärger|-|ünter ', 'natural_key', 'h1');
SELECT * FROM idgraph.allocate(:'sub', 't_hot', 'id', 'Ärger|-|ünter', 'natural_key', 'h2');
SELECT idgraph.set_principal(NULL);
SELECT * FROM idgraph.allocate(:'other', 't_hot', 'id', 'a3e4f567-e89b-12d3-a456-426614174001');
SELECT * FROM idgraph._allocate(:'other', 'public.t_hot'::regclass, 'id', 'with-data', 'natural_key', NULL,
                                'sys-1', '{"a": [1, 2], "b": "x"}');

SELECT is((SELECT count(*) FROM idgraph.audit_log a
            WHERE a.action = 'allocate' AND a.txid = pg_current_xact_id()), 6::bigint,
          'one audit row per allocation call');
SELECT is((SELECT count(*) FROM idgraph.audit_log a
            WHERE a.action = 'allocate' AND a.txid = pg_current_xact_id()
              AND a.row_hash = idgraph._audit_row_hash(a)), 6::bigint,
          'every hot-path audit row carries exactly the hash idgraph._audit_row_hash computes');
SELECT is((SELECT array_agg(a.actor ORDER BY a.audit_id) FROM idgraph.audit_log a
            WHERE a.action = 'allocate' AND a.txid = pg_current_xact_id()),
          ARRAY['key:hot|path', 'key:hot|path', 'key:hot|path', 'key:hot|path', session_user::text, session_user::text],
          'the actor is the principal, else the session user');
SELECT is((SELECT array_agg(a.is_new ORDER BY a.audit_id) FROM idgraph.audit_log a
            WHERE a.action = 'allocate' AND a.txid = pg_current_xact_id()),
          ARRAY[true, false, true, false, false, true], 'is_new as each call reported it');
SELECT ok((SELECT bool_and(a.db_user = session_user AND a.logged_at = now() AND a.sysid = idgraph._system_identifier()
                           AND a.duration_us >= 0 AND a.n_total = 1 AND a.n_new = a.is_new::integer)
             FROM idgraph.audit_log a WHERE a.action = 'allocate' AND a.txid = pg_current_xact_id()),
          'the columns the hot path sets are the defaults'' values');
SELECT is((SELECT count(*) FROM idgraph.audit_log a
            WHERE a.action = 'allocate' AND a.audit_id > (SELECT max(b.audit_id) FROM idgraph.audit_log b
                                                           WHERE b.action = 'create_submission')), 6::bigint,
          'audit ids come from the audit sequence, after the rows written before');

-- A row that comes without a hash still gets one from the trigger.
SELECT * FROM idgraph.commit_submission(:'other');
SELECT ok((SELECT a.row_hash = idgraph._audit_row_hash(a) FROM idgraph.audit_log a
            WHERE a.action = 'commit' AND a.submission_id = :'other'),
          'a commit''s audit row is hashed by the trigger, as before');
SELECT ok(idgraph.verify_audit(), 'verify_audit() is true over hot-path and trigger-hashed rows');

-- The submission lock.
SELECT is((SELECT s.xmax::text FROM idgraph.submissions s WHERE s.submission_id = :'sub'), '0',
          'an allocation does not write the submission row (no row lock)');
SELECT is((SELECT array_agg(l.mode ORDER BY l.mode) FROM pg_locks l
            WHERE l.locktype = 'advisory' AND l.objsubid = 29 AND l.pid = pg_backend_pid() AND l.granted),
          ARRAY['ExclusiveLock', 'ShareLock', 'ShareLock'],
          'allocations hold their submission''s lock in share mode (both), the commit of the other holds it exclusively');
SELECT ok(idgraph._lock_submission(:'sub'::uuid, true, false),
          'this transaction''s own share lock does not keep it from the exclusive one');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_hot', 'id', 'after-commit', 'natural_key')$$, :'other'),
                 '55000', NULL, 'an allocation into the committed submission is refused');

SELECT * FROM finish();
ROLLBACK;
