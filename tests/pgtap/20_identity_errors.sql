-- Identity allocation: every error path a caller can hit, each with its specific
-- SQLSTATE (sql/identity_targets.sql lists them), and nothing written by a failing call.
BEGIN;
SELECT plan(105);

CREATE TABLE public.t_err (id integer PRIMARY KEY, label text);
INSERT INTO public.t_err VALUES (7, 'seven');
CREATE TABLE public.t_err_unregistered (id integer PRIMARY KEY);
CREATE TABLE public.t_err_text (code text PRIMARY KEY, n numeric);
CREATE VIEW public.v_err AS SELECT id FROM public.t_err;
CREATE SEQUENCE public.s_err;

SELECT lives_ok($$SELECT idgraph.register_target('public.t_err', 'id')$$, 'fixture: t_err registered');
SELECT idgraph.create_submission('t20-open', 'tests', 'errors') AS sub \gset
SELECT idgraph.create_submission('t20-committed', 'tests', 'errors') AS sub_c \gset
SELECT idgraph.create_submission('t20-rolled-back', 'tests', 'errors') AS sub_r \gset
SELECT idgraph.create_submission('t20-batch', 'tests', 'errors') AS sub_b \gset
SELECT * FROM idgraph.commit_submission(:'sub_c') \g /dev/null
SELECT * FROM idgraph.rollback_submission(:'sub_r') \g /dev/null
SELECT '00000000-0000-4000-8000-000000000000' AS nosub \gset

-- register_target ---------------------------------------------------------------
SELECT throws_ok($$SELECT idgraph.register_target(NULL, 'id')$$, '22004', NULL, 'register_target: NULL table -> 22004');
SELECT throws_ok($$SELECT idgraph.register_target('public.t_err', NULL)$$, '22004', NULL, 'register_target: NULL column -> 22004');
SELECT throws_ok($$SELECT idgraph.register_target('public.v_err', 'id')$$, '42809', NULL, 'register_target: a view -> 42809 wrong_object_type');
SELECT throws_ok($$SELECT idgraph.register_target('public.s_err', 'last_value')$$, '42809', NULL, 'register_target: a sequence -> 42809');
SELECT throws_ok($$SELECT idgraph.register_target('public.t_err', 'nope')$$, '42703', NULL, 'register_target: unknown column -> 42703');
SELECT throws_ok($$SELECT idgraph.register_target('public.t_err', 'label')$$, '42804', NULL, 'register_target: text column -> 42804');
SELECT throws_ok($$SELECT idgraph.register_target('public.t_err_text', 'n')$$, '42804', NULL, 'register_target: numeric column -> 42804');
SELECT throws_ok($$SELECT idgraph.register_target('public.no_such_table', 'id')$$, '42P01', NULL, 'register_target: unknown table -> 42P01');

-- create_submission -------------------------------------------------------------
SELECT throws_ok($$SELECT idgraph.create_submission(NULL, 'tests', 'errors')$$, '22004', NULL, 'create_submission: NULL name -> 22004');
SELECT throws_ok($$SELECT idgraph.create_submission('x', NULL, 'errors')$$, '22004', NULL, 'create_submission: NULL source_system -> 22004');
SELECT throws_ok($$SELECT idgraph.create_submission('x', 'tests', NULL)$$, '22004', NULL, 'create_submission: NULL data_type -> 22004');
SELECT throws_ok($$SELECT idgraph.create_submission('', 'tests', 'errors')$$, '22023', NULL, 'create_submission: empty name -> 22023');
SELECT throws_ok($$SELECT idgraph.create_submission('   ', 'tests', 'errors')$$, '22023', NULL, 'create_submission: blank name -> 22023');
SELECT throws_ok($$SELECT idgraph.create_submission(repeat('n', 201), 'tests', 'errors')$$, '22023', NULL, 'create_submission: 201-character name -> 22023');
SELECT throws_ok($$SELECT idgraph.create_submission('x', '', 'errors')$$, '22023', NULL, 'create_submission: empty source_system -> 22023');
SELECT throws_ok($$SELECT idgraph.create_submission('x', 'tests', repeat('d', 201))$$, '22023', NULL, 'create_submission: oversized data_type -> 22023');
SELECT throws_ok($$SELECT idgraph.create_submission('t20-open', 'tests', 'errors')$$, '23505', NULL, 'create_submission: name taken -> 23505');
SELECT lives_ok($$SELECT idgraph.create_submission(repeat('n', 200), 'tests', 'errors')$$, 'create_submission: a 200-character name is fine');

-- allocate: targets and table names ---------------------------------------------
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'label', 'K', 'natural_key')$$, :'sub'),
                 '42704', NULL, 'allocate: registered table, unregistered column -> 42704');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err_unregistered', 'id', 'K', 'natural_key')$$, :'sub'),
                 '42704', NULL, 'allocate: unregistered table -> 42704');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 'no_such_table', 'id', 'K', 'natural_key')$$, :'sub'),
                 '42704', NULL, 'allocate: table that does not exist -> 42704');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 'no_such_schema.t_err', 'id', 'K', 'natural_key')$$, :'sub'),
                 '42704', NULL, 'allocate: schema that does not exist -> 42704');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err; DROP TABLE public.t_err', 'id', 'K', 'natural_key')$$, :'sub'),
                 '42602', NULL, 'allocate: injection attempt in the table name -> 42602 invalid_name');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err''--', 'id', 'K', 'natural_key')$$, :'sub'),
                 '42602', NULL, 'allocate: quote in the table name -> 42602');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 'a.b.c', 'id', 'K', 'natural_key')$$, :'sub'),
                 '42602', NULL, 'allocate: three-part name -> 42602');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, '', 'id', 'K', 'natural_key')$$, :'sub'),
                 '42602', NULL, 'allocate: empty table name -> 42602');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id; DROP TABLE public.t_err', 'K', 'natural_key')$$, :'sub'),
                 '42704', NULL, 'allocate: injection attempt in the column name is just an unregistered target -> 42704');
SELECT has_table('public', 't_err', 't_err survived the injection attempts');

-- allocate: external ids --------------------------------------------------------
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', 'not-a-uuid')$$, :'sub'),
                 '22023', NULL, 'allocate: malformed UUID -> 22023');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', 'a3e4f567-e89b-12d3-a456-42661417400')$$, :'sub'),
                 '22023', NULL, 'allocate: UUID one digit short -> 22023');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', 'g3e4f567-e89b-12d3-a456-426614174001')$$, :'sub'),
                 '22023', NULL, 'allocate: UUID with a non-hex digit -> 22023');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', '{a3e4f567-e89b-12d3-a456-426614174001')$$, :'sub'),
                 '22023', NULL, 'allocate: UUID with an unbalanced brace -> 22023');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', 'a3e4f567e-89b-12d3-a456-426614174001')$$, :'sub'),
                 '22023', NULL, 'allocate: UUID with misplaced hyphens -> 22023');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', 'K', 'guid')$$, :'sub'),
                 '22023', NULL, 'allocate: unknown external_id_type -> 22023');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', '', 'natural_key')$$, :'sub'),
                 '22023', NULL, 'allocate: empty natural key -> 22023');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', '   ', 'natural_key')$$, :'sub'),
                 '22023', NULL, 'allocate: blank natural key -> 22023');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', repeat('k', 513), 'natural_key')$$, :'sub'),
                 '22023', NULL, 'allocate: 513-byte natural key -> 22023');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', E'line\nbreak', 'natural_key')$$, :'sub'),
                 '22023', NULL, 'allocate: natural key with a control character -> 22023');
SELECT lives_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', repeat('k', 512), 'natural_key')$$, :'sub'),
                'allocate: a 512-byte natural key is fine');

-- allocate: NULLs ---------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM idgraph.allocate(NULL, 't_err', 'id', 'K', 'natural_key')$$, '22004', NULL, 'allocate: NULL submission -> 22004');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, NULL, 'id', 'K', 'natural_key')$$, :'sub'), '22004', NULL, 'allocate: NULL table -> 22004');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', NULL, 'K', 'natural_key')$$, :'sub'), '22004', NULL, 'allocate: NULL column -> 22004');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', NULL, 'natural_key')$$, :'sub'), '22004', NULL, 'allocate: NULL external id -> 22004');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', 'K', NULL)$$, :'sub'), '22004', NULL, 'allocate: NULL external id type -> 22004');

-- allocate: submissions -----------------------------------------------------------
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', 'K', 'natural_key')$$, :'nosub'),
                 'P0002', NULL, 'allocate: unknown submission -> P0002');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', 'K', 'natural_key')$$, :'sub_c'),
                 '55000', NULL, 'allocate: committed submission -> 55000');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_err', 'id', 'K', 'natural_key')$$, :'sub_r'),
                 '55000', NULL, 'allocate: rolled-back submission -> 55000');

-- allocate_batch ------------------------------------------------------------------
SET LOCAL idgraph.max_batch_size = 3;
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id', ARRAY['B1','B2','B3','B4'], 'natural_key')$$, :'sub_b'),
                 '54000', NULL, 'allocate_batch: 4 ids over idgraph.max_batch_size = 3 -> 54000');
SELECT lives_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id', ARRAY['B1','B2','B3'], 'natural_key')$$, :'sub_b'),
                'allocate_batch: exactly max_batch_size ids are accepted');
SELECT throws_ok($$SELECT * FROM idgraph.resolve_batch('t_err', 'id', ARRAY['B1','B2','B3','B4'])$$,
                 '54000', NULL, 'resolve_batch: over idgraph.max_batch_size -> 54000');
RESET idgraph.max_batch_size;
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id',
                          ARRAY(SELECT 'big-' || g FROM generate_series(1, 10001) g), 'natural_key')$$, :'sub_b'),
                 '54000', NULL, 'allocate_batch: 10,001 ids over the default cap of 10,000 -> 54000');
SELECT is((SELECT count(*)::int FROM idgraph.allocate_batch(:'sub_b', 't_err', 'id',
                          ARRAY(SELECT 'big-' || g FROM generate_series(1, 10000) g), 'natural_key')),
          10000, 'allocate_batch: 10,000 ids in one call are accepted');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id', NULL, 'natural_key')$$, :'sub_b'),
                 '22004', NULL, 'allocate_batch: NULL array -> 22004');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id', ARRAY['C1', NULL], 'natural_key')$$, :'sub_b'),
                 '22004', NULL, 'allocate_batch: NULL element -> 22004');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id', ARRAY['C1'], NULL)$$, :'sub_b'),
                 '22004', NULL, 'allocate_batch: NULL type -> 22004');
SELECT throws_ok($$SELECT * FROM idgraph.allocate_batch(NULL, 't_err', 'id', ARRAY['C1'], 'natural_key')$$,
                 '22004', NULL, 'allocate_batch: NULL submission -> 22004');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id',
                          ARRAY['c3e4f567-e89b-12d3-a456-426614174001', 'not-a-uuid'])$$, :'sub_b'),
                 '22023', NULL, 'allocate_batch: one malformed UUID -> 22023');
SELECT throws_like(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id',
                          ARRAY['c3e4f567-e89b-12d3-a456-426614174001', 'not-a-uuid'])$$, :'sub_b'),
                   '%position 2%', 'allocate_batch: the message names the position of the bad element');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id', ARRAY['C1', ''], 'natural_key')$$, :'sub_b'),
                 '22023', NULL, 'allocate_batch: empty natural key -> 22023');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id', ARRAY['C1', 'C2'], 'natural_key', ARRAY['h1'])$$, :'sub_b'),
                 '22023', NULL, 'allocate_batch: content hashes and ids differ in number -> 22023');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id', ARRAY['C1'], 'guid')$$, :'sub_b'),
                 '22023', NULL, 'allocate_batch: unknown type -> 22023');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err_unregistered', 'id', ARRAY['C1'], 'natural_key')$$, :'sub_b'),
                 '42704', NULL, 'allocate_batch: unregistered table -> 42704');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id', ARRAY['C1'], 'natural_key')$$, :'nosub'),
                 'P0002', NULL, 'allocate_batch: unknown submission -> P0002');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id', ARRAY['C1'], 'natural_key')$$, :'sub_c'),
                 '55000', NULL, 'allocate_batch: committed submission -> 55000');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate_batch(%L, 't_err', 'id', ARRAY['C1'], 'natural_key')$$, :'sub_r'),
                 '55000', NULL, 'allocate_batch: rolled-back submission -> 55000');

-- Nothing was written by any failing call.
SELECT is((SELECT count(*)::int FROM idgraph.allocations a
            WHERE a.target_id = (SELECT target_id FROM idgraph.targets WHERE table_oid = 'public.t_err'::regclass)),
          1 + 3 + 10000, 'failed calls wrote no allocation (only the 512-byte key, B1-B3 and the 10,000 batch exist)');
SELECT is_empty($$SELECT * FROM idgraph.allocations a JOIN idgraph.targets t USING (target_id)
                   WHERE t.table_oid = 'public.t_err'::regclass
                     AND a.external_id IN ('K', 'C1', 'B4', 'big-10001', 'c3e4f567-e89b-12d3-a456-426614174001')$$,
                'none of the ids of failed calls has an integer');
SELECT is((SELECT count(*)::int FROM idgraph.audit_log WHERE action IN ('allocate', 'allocate_batch')
             AND target_id = (SELECT target_id FROM idgraph.targets WHERE table_oid = 'public.t_err'::regclass)), 3,
          'failed calls left no audit row (3 successful calls are audited)');

-- resolve / resolve_batch / resolve_integer / detect_change -------------------------
SELECT throws_ok($$SELECT * FROM idgraph.resolve('t_err', 'id', 'never-allocated')$$, 'P0002', NULL, 'resolve: unknown external id -> P0002');
SELECT throws_ok($$SELECT * FROM idgraph.resolve('t_err', 'label', 'B1')$$, '42704', NULL, 'resolve: unregistered column -> 42704');
SELECT throws_ok($$SELECT * FROM idgraph.resolve('t_err_unregistered', 'id', 'B1')$$, '42704', NULL, 'resolve: unregistered table -> 42704');
SELECT throws_ok($$SELECT * FROM idgraph.resolve('t_err', 'id', NULL)$$, '22004', NULL, 'resolve: NULL external id -> 22004');
SELECT throws_ok($$SELECT * FROM idgraph.resolve(NULL, 'id', 'B1')$$, '22004', NULL, 'resolve: NULL table -> 22004');
SELECT throws_ok($$SELECT * FROM idgraph.resolve('t_err', NULL, 'B1')$$, '22004', NULL, 'resolve: NULL column -> 22004');
SELECT throws_ok($$SELECT * FROM idgraph.resolve('t_err', 'id', 'not-a-uuid', 'uuid')$$, '22023', NULL, 'resolve: malformed UUID with type uuid -> 22023');
SELECT throws_ok($$SELECT * FROM idgraph.resolve('t_err', 'id', 'B1', 'guid')$$, '22023', NULL, 'resolve: unknown type -> 22023');
SELECT throws_ok($$SELECT * FROM idgraph.resolve('t_err; SELECT 1', 'id', 'B1')$$, '42602', NULL, 'resolve: injection in the table name -> 42602');
SELECT throws_ok($$SELECT * FROM idgraph.resolve_batch('t_err', 'id', NULL)$$, '22004', NULL, 'resolve_batch: NULL array -> 22004');
SELECT throws_ok($$SELECT * FROM idgraph.resolve_batch('t_err_unregistered', 'id', ARRAY['B1'])$$, '42704', NULL, 'resolve_batch: unregistered table -> 42704');
SELECT throws_ok($$SELECT * FROM idgraph.resolve_integer('t_err', 'id', 7)$$, 'P0002', NULL,
                 'resolve_integer: an id idgraph did not allocate (a pre-existing row) -> P0002');
SELECT throws_ok($$SELECT * FROM idgraph.resolve_integer('t_err', 'id', NULL)$$, '22004', NULL, 'resolve_integer: NULL -> 22004');
SELECT throws_ok($$SELECT * FROM idgraph.resolve_integer('t_err_unregistered', 'id', 1)$$, '42704', NULL, 'resolve_integer: unregistered table -> 42704');
SELECT throws_ok($$SELECT idgraph.detect_change('t_err', 'id', NULL, 'h')$$, '22004', NULL, 'detect_change: NULL external id -> 22004');
SELECT throws_ok($$SELECT idgraph.detect_change('t_err_unregistered', 'id', 'B1', 'h')$$, '42704', NULL, 'detect_change: unregistered table -> 42704');
SELECT throws_ok($$SELECT idgraph.detect_change('t_err', 'id', '', 'h', 'natural_key')$$, '22023', NULL, 'detect_change: empty natural key -> 22023');

-- Submissions: commit / rollback / statistics ----------------------------------------
SELECT throws_ok(format($$SELECT * FROM idgraph.commit_submission(%L)$$, :'nosub'), 'P0002', NULL, 'commit_submission: unknown -> P0002');
SELECT throws_ok($$SELECT * FROM idgraph.commit_submission(NULL)$$, '22004', NULL, 'commit_submission: NULL -> 22004');
SELECT throws_ok(format($$SELECT * FROM idgraph.commit_submission(%L)$$, :'sub_c'), '55000', NULL, 'commit_submission: committing twice -> 55000');
SELECT throws_ok(format($$SELECT * FROM idgraph.commit_submission(%L)$$, :'sub_r'), '55000', NULL, 'commit_submission: after rollback -> 55000');
SELECT throws_ok(format($$SELECT * FROM idgraph.rollback_submission(%L)$$, :'nosub'), 'P0002', NULL, 'rollback_submission: unknown -> P0002');
SELECT throws_ok($$SELECT * FROM idgraph.rollback_submission(NULL)$$, '22004', NULL, 'rollback_submission: NULL -> 22004');
SELECT throws_ok(format($$SELECT * FROM idgraph.rollback_submission(%L)$$, :'sub_c'), '55000', NULL, 'rollback_submission: after commit -> 55000');
SELECT throws_ok(format($$SELECT * FROM idgraph.rollback_submission(%L)$$, :'sub_r'), '55000', NULL, 'rollback_submission: twice -> 55000');
SELECT throws_ok(format($$SELECT * FROM idgraph.submission(%L)$$, :'nosub'), 'P0002', NULL, 'submission(): unknown -> P0002');
SELECT throws_ok($$SELECT * FROM idgraph.submission(NULL)$$, '22004', NULL, 'submission(): NULL -> 22004');

-- Pure helpers -------------------------------------------------------------------------
SELECT throws_ok($$SELECT idgraph.normalize_external_id('x', 'guid')$$, '22023', NULL, 'normalize_external_id: unknown type -> 22023');
SELECT throws_ok($$SELECT idgraph.normalize_external_ids(ARRAY['ok', NULL], 'natural_key')$$, '22004', NULL, 'normalize_external_ids: NULL element -> 22004');
SELECT is(idgraph.normalize_external_id(NULL, 'uuid'), NULL, 'normalize_external_id is strict: NULL in, NULL out');

-- sead_utility compatibility layer -------------------------------------------------------
SELECT throws_ok(format($$SELECT sead_utility.rollback_submission(%L, true)$$, :'sub'), '0A000', NULL,
                 'sead_utility.rollback_submission(p_delete_allocations => true) -> 0A000 (integers are never freed)');
SELECT throws_ok($$SELECT sead_utility._int(2147483648)$$, '22003', NULL, 'sead_utility: an id past 2^31-1 -> 22003');
SELECT throws_ok(format($$SELECT * FROM sead_utility.allocate_identity_batch(%L, 't20-open', 'public.t_err', 'id', '{"a": 1}')$$, :'sub'),
                 '22023', NULL, 'sead_utility.allocate_identity_batch: not a JSON array -> 22023');
SELECT throws_ok(format($$SELECT * FROM sead_utility.allocate_identity_batch(%L, 't20-open', 'public.t_err', 'id', '[{"external_id": 5}]')$$, :'sub'),
                 '22023', NULL, 'sead_utility.allocate_identity_batch: external_id not a string -> 22023');
SELECT throws_ok(format($$SELECT sead_utility.allocate_identity(%L, 'another-name', 't_err', 'id', 'K', 'natural_key')$$, :'sub'),
                 '22023', NULL, 'sead_utility.allocate_identity: a submission uuid with another name -> 22023');
SELECT throws_ok($$SELECT sead_utility.detect_change('t_err_unregistered', 'B1', 'h')$$, '42704', NULL,
                 'sead_utility.detect_change: table without a target -> 42704');

SELECT * FROM finish();
ROLLBACK;
