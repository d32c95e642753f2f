-- Least privilege (SPEC §1 Access, issue 2): pipelines log in as idgraph_reader /
-- idgraph_writer / idgraph_admin. Writers allocate only through the functions (so the
-- audit cannot be bypassed), readers only resolve and read, registering targets is
-- admin-only, and every SECURITY DEFINER function pins its search_path.
-- Each boundary is proved both from the catalog and by acting as the role (SET ROLE).
BEGIN;
SELECT plan(82);

-- Roles -----------------------------------------------------------------------------
SELECT has_role('idgraph_reader');
SELECT has_role('idgraph_writer');
SELECT has_role('idgraph_admin');
SELECT is((SELECT bool_or(rolcanlogin OR rolsuper) FROM pg_roles WHERE rolname IN ('idgraph_reader', 'idgraph_writer', 'idgraph_admin')), false,
          'the idgraph roles are NOLOGIN and not superusers');
SELECT is_member_of('idgraph_reader', 'idgraph_writer');
SELECT is_member_of('idgraph_writer', 'idgraph_admin');

-- Catalog: tables -----------------------------------------------------------------------
SELECT table_privs_are('idgraph', 'allocations', 'idgraph_reader', ARRAY['SELECT'], 'reader may only SELECT allocations');
SELECT table_privs_are('idgraph', 'allocations', 'idgraph_writer', ARRAY['SELECT'], 'writer may only SELECT allocations (no INSERT/UPDATE/DELETE)');
SELECT table_privs_are('idgraph', 'allocations', 'idgraph_admin', ARRAY['SELECT'], 'admin may only SELECT allocations');
SELECT table_privs_are('idgraph', 'submissions', 'idgraph_writer', ARRAY['SELECT'], 'writer may only SELECT submissions');
SELECT table_privs_are('idgraph', 'targets', 'idgraph_writer', ARRAY['SELECT'], 'writer may only SELECT targets');
SELECT table_privs_are('idgraph', 'audit_log', 'idgraph_reader', ARRAY[]::text[], 'reader has no access to the audit log');
SELECT table_privs_are('idgraph', 'audit_log', 'idgraph_writer', ARRAY[]::text[], 'writer has no access to the audit log');
SELECT table_privs_are('idgraph', 'audit_log', 'idgraph_admin', ARRAY['SELECT'], 'admin may read the audit log, not change it');
SELECT table_privs_are('idgraph', 'audit_seals', 'idgraph_admin', ARRAY['SELECT'], 'admin may read the seals, not change them');
SELECT table_privs_are('idgraph', 'services', 'idgraph_writer', ARRAY['SELECT'], 'writer may only SELECT services (ingest goes through functions)');
SELECT table_privs_are('idgraph', 'edges', 'idgraph_writer', ARRAY['SELECT'], 'writer may only SELECT edges');
SELECT table_privs_are('idgraph', 'slo_audit_log', 'idgraph_writer', ARRAY['SELECT'], 'writer may only SELECT the SLO audit log');

-- Catalog: functions --------------------------------------------------------------------
SELECT function_privs_are('idgraph', 'register_target', ARRAY['regclass', 'name'], 'idgraph_admin', ARRAY['EXECUTE'],
                          'admin may register targets');
SELECT function_privs_are('idgraph', 'register_target', ARRAY['regclass', 'name'], 'idgraph_writer', ARRAY[]::text[],
                          'writer may not register targets');
SELECT function_privs_are('idgraph', 'register_target', ARRAY['regclass', 'name'], 'idgraph_reader', ARRAY[]::text[],
                          'reader may not register targets');
SELECT function_privs_are('idgraph', 'allocate', ARRAY['uuid', 'text', 'text', 'text', 'text', 'text'], 'idgraph_writer', ARRAY['EXECUTE'],
                          'writer may allocate');
SELECT function_privs_are('idgraph', 'allocate', ARRAY['uuid', 'text', 'text', 'text', 'text', 'text'], 'idgraph_reader', ARRAY[]::text[],
                          'reader may not allocate');
SELECT function_privs_are('idgraph', 'allocate_batch', ARRAY['uuid', 'text', 'text', 'text[]', 'text', 'text[]'], 'idgraph_reader', ARRAY[]::text[],
                          'reader may not allocate batches');
SELECT function_privs_are('idgraph', 'create_submission', ARRAY['text', 'text', 'text', 'text', 'text'], 'idgraph_reader', ARRAY[]::text[],
                          'reader may not create submissions');
SELECT function_privs_are('idgraph', 'commit_submission', ARRAY['uuid', 'text'], 'idgraph_reader', ARRAY[]::text[],
                          'reader may not commit');
SELECT function_privs_are('idgraph', 'resolve', ARRAY['text', 'text', 'text', 'text'], 'idgraph_reader', ARRAY['EXECUTE'],
                          'reader may resolve');
SELECT function_privs_are('idgraph', 'verify_audit', ARRAY[]::text[], 'idgraph_writer', ARRAY[]::text[],
                          'writer may not run the audit verification');
SELECT function_privs_are('idgraph', 'verify_audit', ARRAY[]::text[], 'idgraph_admin', ARRAY['EXECUTE'],
                          'admin may verify the audit');
SELECT function_privs_are('idgraph', '_audit',
                          ARRAY['text', 'uuid', 'integer', 'text', 'bigint', 'boolean', 'integer', 'integer', 'jsonb', 'timestamp with time zone'],
                          'idgraph_writer', ARRAY[]::text[], 'writer may not write audit rows directly');
SELECT function_privs_are('idgraph', 'ingest_graph', ARRAY['jsonb'], 'idgraph_reader', ARRAY[]::text[], 'reader may not ingest');
SELECT function_privs_are('idgraph', 'ingest_graph', ARRAY['jsonb'], 'idgraph_writer', ARRAY['EXECUTE'], 'writer may ingest');
SELECT function_privs_are('idgraph', 'refresh_centrality', ARRAY['text', 'integer'], 'idgraph_writer', ARRAY[]::text[],
                          'writer may not refresh centrality');

-- Nothing in idgraph is executable by PUBLIC but the pure helpers.
SELECT set_eq(
  $$SELECT p.proname::text FROM pg_proc p
     WHERE p.pronamespace = 'idgraph'::regnamespace
       AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a
                                        WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))$$,
  ARRAY['normalize_external_id', 'normalize_external_ids', 'guess_external_id_type', 'external_id_key', 'external_id_keys'],
  'only the pure normalization and key helpers are executable by PUBLIC');
SELECT is_empty(
  $$SELECT c.relname FROM pg_class c
     WHERE c.relnamespace = 'idgraph'::regnamespace AND c.relkind IN ('r', 'v', 'S', 'p')
       AND EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0)$$,
  'no idgraph table, view or sequence grants anything to PUBLIC');

-- SECURITY DEFINER functions pin their search_path ---------------------------------------
SELECT isnt_empty(
  $$SELECT 1 FROM pg_proc p WHERE p.prosecdef AND p.pronamespace = 'idgraph'::regnamespace$$,
  'idgraph has SECURITY DEFINER functions');
SELECT is_empty(
  $$SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.prosecdef AND p.pronamespace IN ('idgraph'::regnamespace, 'sead_utility'::regnamespace)
       AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')$$,
  'every SECURITY DEFINER function has a SET search_path');
SELECT is_empty(
  $$SELECT p.oid::regprocedure::text || ' ' || c FROM pg_proc p, unnest(p.proconfig) c
     WHERE p.prosecdef AND p.pronamespace IN ('idgraph'::regnamespace, 'sead_utility'::regnamespace)
       AND c LIKE 'search_path=%'
       AND c !~ '^search_path="?pg_catalog"?, *"?pg_temp"?$'$$,
  'each pinned search_path is exactly pg_catalog, pg_temp (nothing writable by callers, pg_temp last)');
SELECT is_empty(
  $$SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.prosecdef AND p.pronamespace = 'idgraph'::regnamespace
       AND pg_get_userbyid(p.proowner) <> (SELECT pg_get_userbyid(e.extowner) FROM pg_extension e WHERE e.extname = 'idgraph')$$,
  'SECURITY DEFINER functions are owned by the extension owner');
SELECT ok((SELECT prosecdef FROM pg_proc WHERE oid = 'idgraph._allocate(uuid, regclass, text, text, text, text, text, jsonb)'::regprocedure),
          'the writing half of allocate is SECURITY DEFINER');
SELECT ok((SELECT NOT prosecdef FROM pg_proc WHERE oid = 'idgraph.allocate(uuid, text, text, text, text, text)'::regprocedure),
          'the public allocate is SECURITY INVOKER (names resolve on the caller''s search_path)');

-- Fixtures for acting as each role ----------------------------------------------------
CREATE TABLE public.t_roles (id integer PRIMARY KEY);
GRANT SELECT ON public.t_roles TO idgraph_reader;
-- register_target checks the caller's own privileges on the table (50_trust_boundaries).
GRANT UPDATE (id) ON public.t_roles TO idgraph_admin;
CREATE ROLE t30_nobody NOLOGIN;
SELECT ok(idgraph.verify_audit(), 'the audit verifies before the role tests');

-- Admin ----------------------------------------------------------------------------------
SET LOCAL ROLE idgraph_admin;
SELECT lives_ok($$SELECT idgraph.register_target('public.t_roles', 'id')$$, 'admin: register_target works');
SELECT lives_ok($$SELECT idgraph.verify_audit()$$, 'admin: verify_audit works');
SELECT lives_ok($$SELECT count(*) FROM idgraph.audit_log$$, 'admin: may read the audit log');
SELECT throws_ok($$UPDATE idgraph.audit_log SET actor = 'x'$$, '42501', NULL, 'admin: may not UPDATE the audit log');
SELECT throws_ok($$ALTER TABLE idgraph.audit_log DISABLE TRIGGER audit_log_append_only$$, '42501', NULL,
                 'admin: may not disable the audit guard');
RESET ROLE;

-- Writer ---------------------------------------------------------------------------------
SET LOCAL ROLE idgraph_writer;
SELECT idgraph.create_submission('t30-writer', 'tests', 'roles') AS wsub \gset
SELECT ok(:'wsub' IS NOT NULL, 'writer: create_submission works');
SELECT is((SELECT alloc_integer_id FROM idgraph.allocate(:'wsub', 't_roles', 'id', 'W-1', 'natural_key')), 1::bigint,
          'writer: allocate works');
SELECT is((SELECT count(*)::int FROM idgraph.allocate_batch(:'wsub', 'public.t_roles', 'id', ARRAY['W-2', 'W-3'], 'natural_key')), 2,
          'writer: allocate_batch works');
SELECT is((SELECT alloc_integer_id FROM idgraph.resolve('t_roles', 'id', 'W-1')), 1::bigint, 'writer: resolve works (inherited from reader)');
SELECT throws_ok($$INSERT INTO idgraph.allocations (target_id, external_id, alloc_integer_id, external_id_type, submission_id, created_by)
                   SELECT target_id, 'forged', 999, 'natural_key', gen_random_uuid(), 'me' FROM idgraph.targets LIMIT 1$$,
                 '42501', NULL, 'writer: may not INSERT allocations directly');
SELECT throws_ok($$UPDATE idgraph.allocations SET alloc_integer_id = alloc_integer_id + 1000$$, '42501', NULL,
                 'writer: may not UPDATE allocations');
SELECT throws_ok($$DELETE FROM idgraph.allocations$$, '42501', NULL, 'writer: may not DELETE allocations');
SELECT throws_ok($$UPDATE idgraph.allocation_rows SET submission_no = submission_no + 1$$, '42501', NULL,
                 'writer: may not UPDATE the allocations'' storage table');
SELECT throws_ok($$TRUNCATE idgraph.allocation_rows$$, '42501', NULL, 'writer: may not TRUNCATE it');
SELECT throws_ok($$SELECT count(*) FROM idgraph.allocation_rows$$, '42501', NULL, 'writer: nor read it (the view is what readers read)');
SELECT throws_ok($$UPDATE idgraph.submissions SET status = 'committed'$$, '42501', NULL, 'writer: may not UPDATE submissions');
SELECT throws_ok($$DELETE FROM idgraph.targets$$, '42501', NULL, 'writer: may not DELETE targets');
SELECT throws_ok($$INSERT INTO idgraph.audit_log (actor, action, sysid, row_hash) VALUES ('me', 'allocate', 0, '\x00')$$,
                 '42501', NULL, 'writer: may not INSERT audit rows');
SELECT throws_ok($$SELECT * FROM idgraph.audit_log$$, '42501', NULL, 'writer: may not read the audit log');
SELECT throws_ok($$SELECT idgraph.register_target('public.t_roles', 'id')$$, '42501', NULL, 'writer: register_target -> 42501');
SELECT throws_ok($$SELECT idgraph.verify_audit()$$, '42501', NULL, 'writer: verify_audit -> 42501');
SELECT throws_ok($$SELECT nextval('idgraph_alloc.' || quote_ident('target_' || (SELECT target_id FROM idgraph.targets WHERE table_oid = 'public.t_roles'::regclass)))$$,
                 '42501', NULL, 'writer: may not draw from idgraph''s allocation sequences');
SELECT lives_ok(format($$SELECT * FROM idgraph.commit_submission(%L)$$, :'wsub'), 'writer: commit_submission works');
SELECT lives_ok($$SELECT idgraph.ingest_graph('{"source": "manual", "nodes": [{"service_id": "t30-svc", "availability": 0.999}]}')$$,
                'writer: ingest_graph works');
SELECT lives_ok($$SELECT idgraph.set_slo('t30-svc', 0.99, NULL, NULL, 'roles test')$$, 'writer: set_slo works');
SELECT lives_ok($$SELECT idgraph.set_availability('t30-svc', 0.998)$$, 'writer: set_availability works');
SELECT throws_ok($$INSERT INTO idgraph.services (service_id) VALUES ('forged')$$, '42501', NULL, 'writer: may not INSERT services directly');
SELECT throws_ok($$SELECT idgraph.refresh_centrality()$$, '42501', NULL, 'writer: refresh_centrality -> 42501');
RESET ROLE;
SELECT ok(idgraph.verify_audit(), 'the writer''s work left an intact audit trail');
SELECT is((SELECT count(*)::int FROM idgraph.audit_log WHERE submission_id = :'wsub'), 4,
          'every writer call was audited (create, allocate, batch, commit)');

-- Reader -----------------------------------------------------------------------------------
SET LOCAL ROLE idgraph_reader;
SELECT is((SELECT alloc_integer_id FROM idgraph.resolve('public.t_roles', 'id', 'W-2')), 2::bigint, 'reader: resolve works');
SELECT is((SELECT count(*)::int FROM idgraph.resolve_batch('t_roles', 'id', ARRAY['W-1', 'W-3'])), 2, 'reader: resolve_batch works');
SELECT is((SELECT external_id FROM idgraph.resolve_integer('t_roles', 'id', 3)), 'W-3', 'reader: resolve_integer works');
SELECT is((SELECT status FROM idgraph.submission(:'wsub')), 'committed', 'reader: submission() works');
SELECT throws_ok(format($$SELECT * FROM idgraph.allocate(%L, 't_roles', 'id', 'R-1', 'natural_key')$$, :'wsub'), '42501', NULL,
                 'reader: allocate -> 42501');
SELECT throws_ok($$SELECT idgraph.create_submission('t30-reader', 'tests', 'roles')$$, '42501', NULL, 'reader: create_submission -> 42501');
SELECT throws_ok($$SELECT idgraph.ingest_graph('{"source": "manual", "nodes": [{"service_id": "x"}]}')$$, '42501', NULL,
                 'reader: ingest_graph -> 42501');
SELECT is((SELECT count(*)::int FROM idgraph.dependencies('t30-svc')), 0, 'reader: dependencies works');
RESET ROLE;

-- A role with none of the idgraph roles ---------------------------------------------------
SET LOCAL ROLE t30_nobody;
SELECT throws_ok($$SELECT * FROM idgraph.resolve('public.t_roles', 'id', 'W-1')$$, '42501', NULL,
                 'a role outside idgraph''s roles cannot even resolve');
SELECT throws_ok($$SELECT count(*) FROM idgraph.allocations$$, '42501', NULL, 'nor read the allocations');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
