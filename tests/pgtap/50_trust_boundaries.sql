-- Trust boundaries (issue 11): one validated door per write, who acted is never the
-- caller's word, register_target checks the caller's own privileges, and the audit's
-- seals are published for anchoring outside the database.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(30);

-- Every function's EXECUTE grants, against the checked-in table below: a new function
-- cannot be exposed by accident. Grants held directly (not through membership), to
-- PUBLIC and to each idgraph role; the table is (function, grantee) for every grant.
CREATE TEMP TABLE expected_grants (fn text, grantee text);
\ir function_grants.inc
SELECT set_eq(
  $$SELECT p.oid::regprocedure::text, coalesce(r.rolname, 'PUBLIC')
      FROM pg_proc p
      CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x
      LEFT JOIN pg_roles r ON r.oid = x.grantee
     WHERE p.pronamespace IN ('idgraph'::regnamespace, 'sead_utility'::regnamespace)
       AND x.privilege_type = 'EXECUTE' AND x.grantee <> p.proowner$$,
  $$SELECT fn, grantee FROM expected_grants$$,
  'every function in idgraph and sead_utility is executable by exactly the roles tests/pgtap/function_grants.inc lists');
SELECT is_empty(
  $$SELECT p.oid::regprocedure FROM pg_proc p
     WHERE p.pronamespace IN ('idgraph'::regnamespace, 'sead_utility'::regnamespace)
       AND p.proname LIKE '\_%' AND p.prosecdef
       AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x
                    WHERE x.privilege_type = 'EXECUTE' AND x.grantee = 0)$$,
  'no internal SECURITY DEFINER function is executable by PUBLIC');
SELECT ok((SELECT prosecdef FROM pg_proc WHERE oid = 'idgraph.ingest_graph(jsonb)'::regprocedure)
          AND (SELECT proconfig FROM pg_proc WHERE oid = 'idgraph.ingest_graph(jsonb)'::regprocedure) @> ARRAY['search_path=pg_catalog, pg_temp'],
          'ingest_graph, the graph''s write door, is SECURITY DEFINER with a pinned search_path');

-- Fixtures --------------------------------------------------------------------------------
DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
DELETE FROM idgraph.circular_dependency_alerts;
CREATE SCHEMA t50;
CREATE TABLE t50.mine (id integer PRIMARY KEY);
CREATE TABLE t50.theirs (id integer PRIMARY KEY);
CREATE TABLE t50.serial_t (id serial PRIMARY KEY);
GRANT USAGE ON SCHEMA t50 TO idgraph_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA t50 TO idgraph_reader;
GRANT UPDATE (id) ON t50.mine TO idgraph_admin;
GRANT UPDATE (id) ON t50.serial_t TO idgraph_admin;
SELECT * FROM idgraph.register_target('t50.mine', 'id');
SELECT idgraph.ingest_graph('{"source": "manual", "edges": [{"source": "t50-a", "target": "t50-b"}, {"source": "t50-b", "target": "t50-a"}]}');

-- A writer cannot reach the internals -----------------------------------------------------
SET LOCAL ROLE idgraph_writer;
SELECT throws_ok($$SELECT idgraph._record_cycles('[]'::jsonb, 0)$$, '42501', NULL,
                 'writer: _record_cycles (which would resolve every open cycle alert) -> 42501');
SELECT throws_ok($$SELECT idgraph._ingest_apply('manual', now(), '[]'::jsonb, '[]'::jsonb)$$, '42501', NULL,
                 'writer: _ingest_apply (ingest without its checks and caps) -> 42501');
SELECT throws_ok($$SELECT idgraph._centrality_touch(ARRAY[1], ARRAY[2])$$, '42501', NULL,
                 'writer: _centrality_touch -> 42501');
SELECT throws_ok($$SELECT idgraph.set_principal('someone-else', 'their-team')$$, '42501', NULL,
                 'writer: set_principal, the facade''s door -> 42501');
SELECT throws_ok($$SELECT * FROM idgraph.audit_seal_digests()$$, '42501', NULL,
                 'writer: the seal digest stream -> 42501');
SELECT lives_ok($$SELECT idgraph.ingest_graph('{"source": "manual", "edges": [{"source": "t50-c", "target": "t50-a"}]}')$$,
                'writer: ingest_graph, the door, works');
SELECT is((SELECT count(*)::int FROM idgraph.circular_dependency_alerts WHERE members = ARRAY['t50-a', 't50-b'] AND status = 'open'), 1,
          'and the cycle alert is still open (nobody resolved it behind the door''s back)');

-- Who acted is never the caller's word -----------------------------------------------------
SET LOCAL idgraph.actor = 'someone-else';
SET LOCAL idgraph.team = 'their-team';
SELECT idgraph.create_submission('t50-forge', 'tests', 'trust', NULL, 'someone-else') AS sub \gset
SELECT is((SELECT row(created_by, created_by_team, created_by_claim)::text FROM idgraph.submissions WHERE submission_id = :'sub'),
          row(session_user, NULL, 'someone-else')::text,
          'SET idgraph.actor/team and p_created_by do not make the creator: it is the session user, the name a labelled claim');
SELECT lives_ok(format($$SELECT * FROM idgraph.allocate(%L, 't50.mine', 'id', 'F-1', 'natural_key')$$, :'sub'), 'writer allocates');
RESET ROLE;
SELECT is((SELECT actor FROM idgraph.audit_log WHERE submission_id = :'sub' AND action = 'allocate'), session_user::text,
          'the allocation audit records the session user, not the SET idgraph.actor');
SET LOCAL ROLE idgraph_writer;
SELECT lives_ok($$SELECT idgraph.set_slo('t50-a', 0.999, NULL, NULL, 'forged?', 'someone-else')$$, 'writer: set_slo with p_actor');
SELECT lives_ok($$SELECT idgraph.acknowledge_cycle((SELECT alert_id FROM idgraph.circular_dependency_alerts WHERE members = ARRAY['t50-a', 't50-b'] AND status = 'open'), 'someone-else')$$,
                'writer: acknowledge_cycle with p_by');
RESET ROLE;
SELECT is((SELECT row(actor, actor_claim)::text FROM idgraph.slo_audit_log WHERE service_id = 't50-a' ORDER BY audit_id DESC LIMIT 1),
          row(session_user, 'someone-else')::text, 'the SLO audit records who really acted; p_actor is only a claim');
SELECT is((SELECT set_by FROM idgraph.slos s JOIN idgraph.services v USING (service_pk) WHERE v.service_id = 't50-a'),
          session_user::text, 'and so does the active SLO');
SELECT is((SELECT row(acknowledged_by, acknowledged_by_claim)::text FROM idgraph.circular_dependency_alerts WHERE members = ARRAY['t50-a', 't50-b']),
          row(session_user, 'someone-else')::text, 'acknowledge_cycle records who really acted; p_by is only a claim');
RESET idgraph.actor;
RESET idgraph.team;
-- The door itself: what the facade sets is recorded (as superuser here, standing in for
-- idgraph_facade), bad names are refused, NULL clears it.
SELECT idgraph.set_principal('key:t50', 'payments');
SELECT idgraph.create_submission('t50-door', 'tests', 'trust') AS dsub \gset
SELECT is((SELECT row(created_by, created_by_team, created_by_claim)::text FROM idgraph.submissions WHERE submission_id = :'dsub'),
          row('key:t50', 'payments', session_user)::text, 'the principal set through the door is who acted, with its team');
SELECT throws_ok($$SELECT idgraph.set_principal('', NULL)$$, '22023', NULL, 'an empty principal -> 22023');
SELECT throws_ok($$SELECT idgraph.set_principal(repeat('x', 201), NULL)$$, '22023', NULL, 'a principal over 200 bytes -> 22023');
SELECT throws_ok($$SELECT idgraph.set_principal('a' || chr(10) || 'b', NULL)$$, '22023', NULL, 'a control character -> 22023');
SELECT idgraph.set_principal(NULL);
SELECT is(idgraph._actor(), session_user::text, 'set_principal(NULL) clears it: the session user again');

-- register_target checks the caller's own privileges --------------------------------------
SET LOCAL ROLE idgraph_admin;
SELECT throws_ok($$SELECT idgraph.register_target('t50.theirs', 'id')$$, '42501', NULL,
                 'admin: register_target on a table it may not write -> 42501');
SELECT throws_ok($$SELECT idgraph.register_target('t50.serial_t', 'id')$$, '42501', NULL,
                 'admin: UPDATE on the column but not on its sequence -> 42501');
RESET ROLE;
GRANT UPDATE ON SEQUENCE t50.serial_t_id_seq TO idgraph_admin;
SET LOCAL ROLE idgraph_admin;
SELECT lives_ok($$SELECT idgraph.register_target('t50.serial_t', 'id')$$, 'admin: with UPDATE on the column and its sequence it works');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM idgraph.targets WHERE table_oid = 't50.theirs'::regclass), 0, 'the refused table was not registered');

-- Seals, published and anchored -------------------------------------------------------------
SET LOCAL ROLE idgraph_admin;
SELECT lives_ok($$SELECT * FROM idgraph.audit_seal_digests(0, 10)$$, 'admin: reads the seal digest stream');
SELECT throws_ok($$SELECT * FROM idgraph.audit_seal_digests(0, 0)$$, '22023', NULL, 'a limit of 0 -> 22023');
RESET ROLE;
SELECT is((SELECT count(*) FROM idgraph.audit_seal_digests(0, 10000)), (SELECT count(*) FROM idgraph.audit_seals),
          'the stream has every seal');
-- A consistent rewrite that verify_audit() cannot see but the anchored stream can:
-- itests/tests/audit_anchor.rs (it needs committed, sealed rows).

SELECT * FROM finish();
ROLLBACK;
