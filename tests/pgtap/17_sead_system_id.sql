-- sead_utility.allocate_system_id: SEAD's legacy allocator as Shape Shifter's generated SQL
-- calls it, one call per row inside INSERT ... SELECT, with unqualified table names.
BEGIN;
SELECT plan(27);

CREATE SCHEMA idg_t17;
CREATE TABLE idg_t17.tbl_x (x_id integer PRIMARY KEY, a text, b integer);
INSERT INTO idg_t17.tbl_x VALUES (40, 'legacy', 0);
CREATE TABLE idg_t17.tbl_unregistered (u_id integer PRIMARY KEY);
SELECT lives_ok($$SELECT idgraph.register_target('idg_t17.tbl_x', 'x_id')$$, 'target registered');
SET LOCAL search_path = idg_t17, public;
-- Shape Shifter's new_data carries the identifiers as columns.
CREATE TEMP TABLE new_data (system_id integer, a text, b integer, submission_identifier text, change_request_identifier text);
INSERT INTO new_data VALUES (1, 'one', 1, 'shape-shifter-t17', 'CR-17'), (2, 'two', 2, 'shape-shifter-t17', 'CR-17'),
                            (3, 'three', 3, 'shape-shifter-t17', 'CR-17');

-- The generated statement, character for character as the issue quotes it.
SELECT lives_ok($$INSERT INTO tbl_x (x_id, a, b) SELECT sead_utility.allocate_system_id(submission_identifier, change_request_identifier, 'tbl_x', 'x_id', new_data.system_id::text, row_to_json(new_data.*)::jsonb) AS x_id, a, b FROM new_data;$$,
                'the Shape Shifter statement runs unchanged');
SELECT results_eq($$SELECT x_id, a FROM tbl_x WHERE a <> 'legacy' ORDER BY x_id$$,
                  $$VALUES (41, 'one'), (42, 'two'), (43, 'three')$$,
                  'rows inserted with integers above max(x_id) = 40, one per system id');
SELECT is(sead_utility.allocate_system_id('shape-shifter-t17', 'CR-17', 'tbl_x', 'x_id', '2'), 42,
          'asking again for a system id answers the same integer');
SELECT is(sead_utility.allocate_system_id('shape-shifter-t17', NULL, 'tbl_x', 'x_id', ' 2 '), 42,
          'the system id is a natural key (trimmed); the change request may be left out');
SELECT is(sead_utility.allocate_system_id('another-run', NULL, 'idg_t17.tbl_x', 'x_id', '3'), 43,
          'the same (table, column, system id) from another submission: the same integer');

-- The submission: named by the identifier, created on first use, with the change request.
SELECT is((SELECT count(*)::int FROM idgraph.submissions WHERE submission_name = 'shape-shifter-t17'), 1,
          'one submission named by the identifier');
SELECT is((SELECT submission_id FROM idgraph.submissions WHERE submission_name = 'shape-shifter-t17'),
          idgraph.named_submission_uuid('shape-shifter-t17'), 'its uuid is named_submission_uuid(identifier)');
SELECT is(sead_utility.submission_uuid('shape-shifter-t17'), idgraph.named_submission_uuid('shape-shifter-t17'),
          'sead_utility.submission_uuid finds it');
SELECT is((SELECT change_request_id FROM idgraph.submissions WHERE submission_name = 'shape-shifter-t17'), 'CR-17',
          'the change request is recorded on the submission');
SELECT results_eq($$SELECT status, source_system, data_type FROM idgraph.submissions WHERE submission_name = 'shape-shifter-t17'$$,
                  $$VALUES ('pending'::text, 'sead_utility'::text, 'tbl_x'::text)$$, 'pending, from sead_utility, for tbl_x');
SELECT throws_ok($$SELECT sead_utility.allocate_system_id('shape-shifter-t17', 'CR-99', 'tbl_x', 'x_id', '9')$$,
                 '22023', NULL, 'a different change request for the same submission -> 22023');

-- The data is the allocation's external data; the system id its external_system_id.
SELECT results_eq($$SELECT a.external_id, a.external_id_type, a.external_system_id, a.external_data
                      FROM idgraph.allocations a JOIN idgraph.targets t USING (target_id)
                     WHERE t.table_oid = 'idg_t17.tbl_x'::regclass AND a.alloc_integer_id = 41$$,
                  $$VALUES ('1'::text, 'natural_key'::text, '1'::text,
                           '{"system_id": 1, "a": "one", "b": 1, "submission_identifier": "shape-shifter-t17", "change_request_identifier": "CR-17"}'::jsonb)$$,
                  'external id = system id (natural key), the row''s JSON kept as external data');

-- NULL system id: a fresh integer per call.
SELECT isnt(sead_utility.allocate_system_id('shape-shifter-t17', NULL, 'tbl_x', 'x_id', NULL, '{"n": 1}'),
            sead_utility.allocate_system_id('shape-shifter-t17', NULL, 'tbl_x', 'x_id', NULL, '{"n": 1}'),
            'a NULL system id gets a fresh integer on every call');
SELECT is((SELECT count(DISTINCT x)::int FROM (SELECT sead_utility.allocate_system_id('shape-shifter-t17', NULL, 'tbl_x', 'x_id')
                                                 FROM generate_series(1, 50)) s(x)), 50,
          '50 calls with no system id in one statement: 50 integers');

-- A uuid identifier is the submission's uuid; an existing submission is found by name.
SELECT is(sead_utility.allocate_system_id('17171717-0000-4000-8000-000000000001', NULL, 'tbl_x', 'x_id', '10'), 44 + 52,
          'a uuid identifier works (integers go on from the sequence)');
SELECT is((SELECT submission_name FROM idgraph.submissions WHERE submission_id = '17171717-0000-4000-8000-000000000001'),
          '17171717-0000-4000-8000-000000000001', 'a uuid identifier is the new submission''s uuid and name');
SELECT lives_ok($$SELECT idgraph.create_submission('t17-by-name', 'arbodat', 'sites')$$, 'a submission created beforehand');
SELECT lives_ok($$SELECT sead_utility.allocate_system_id('t17-by-name', NULL, 'tbl_x', 'x_id', '11')$$,
                'allocate_system_id into it by its name');
SELECT is((SELECT count(*)::int FROM idgraph.allocations a JOIN idgraph.submissions s USING (submission_id)
            WHERE s.submission_name = 't17-by-name'), 1, 'the allocation went into the existing submission');

-- Errors: specific, and nothing half-written.
SELECT throws_ok($$SELECT sead_utility.allocate_system_id('t17-unreg', NULL, 'tbl_unregistered', 'u_id', '1')$$,
                 '42704', NULL, 'an unregistered target -> 42704');
SELECT is((SELECT count(*)::int FROM idgraph.submissions WHERE submission_name = 't17-unreg'), 0,
          'and no submission was created for it');
SELECT throws_ok($$SELECT sead_utility.allocate_system_id(NULL, NULL, 'tbl_x', 'x_id', '1')$$,
                 '22004', NULL, 'a NULL submission identifier -> 22004');
SELECT throws_ok($$SELECT sead_utility.allocate_system_id('', NULL, 'tbl_x', 'x_id', '1')$$,
                 '22023', NULL, 'an empty submission identifier -> 22023');
SELECT lives_ok($$SELECT sead_utility.commit_submission(sead_utility.submission_uuid('shape-shifter-t17'))$$,
                'the pipeline commits by identifier');
SELECT throws_ok($$SELECT sead_utility.allocate_system_id('shape-shifter-t17', NULL, 'tbl_x', 'x_id', '77')$$,
                 '55000', NULL, 'allocating into the committed submission -> 55000');

-- The boundary from the wrong side: a reader may not allocate.
SET LOCAL ROLE idgraph_reader;
SELECT throws_ok($$SELECT sead_utility.allocate_system_id('t17-reader', NULL, 'tbl_x', 'x_id', '1')$$,
                 '42501', NULL, 'idgraph_reader calling allocate_system_id -> 42501');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
