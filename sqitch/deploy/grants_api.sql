-- Deploy idgraph:grants_api
-- Least privilege. Writers reach idgraph's tables only through SECURITY DEFINER
-- functions (which write the audit); they hold no INSERT/UPDATE/DELETE on any table.
BEGIN;
GRANT USAGE ON SCHEMA idgraph TO idgraph_reader, idgraph_writer, idgraph_admin;

-- Reader: resolve and read.
GRANT EXECUTE ON FUNCTION
  idgraph._resolve_table(text),
  idgraph.resolve(text, text, text, text), idgraph._resolve(regclass, text, text, text),
  idgraph.resolve_batch(text, text, text[], text), idgraph._resolve_batch(regclass, text, text[], text),
  idgraph.resolve_integer(text, text, bigint), idgraph._resolve_integer(regclass, text, bigint),
  idgraph.detect_change(text, text, text, text, text), idgraph._detect_change(regclass, text, text, text, text),
  idgraph.submission(uuid), idgraph.targets()
  TO idgraph_reader;
GRANT SELECT ON idgraph.targets, idgraph.submissions, idgraph.allocations TO idgraph_reader;

-- Writer: allocate, commit, roll back (audited).
GRANT EXECUTE ON FUNCTION
  idgraph.create_submission(text, text, text, text, text),
  idgraph.allocate(uuid, text, text, text, text, text),
  idgraph._allocate(uuid, regclass, text, text, text, text, text, jsonb),
  idgraph.allocate_batch(uuid, text, text, text[], text, text[]),
  idgraph._allocate_batch(uuid, regclass, text, text[], text, text[]),
  idgraph.commit_submission(uuid, text),
  idgraph.rollback_submission(uuid, text)
  TO idgraph_writer;

-- Admin: register targets, read and verify the audit trail.
GRANT EXECUTE ON FUNCTION
  idgraph.register_target(regclass, name),
  idgraph.seal_audit(), idgraph.audit_problems(), idgraph.verify_audit()
  TO idgraph_admin;
GRANT SELECT ON idgraph.audit_log, idgraph.audit_seals TO idgraph_admin;
COMMIT;
