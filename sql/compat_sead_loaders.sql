-- sead_utility, continued (issue 9): the legacy allocator SEAD's Shape Shifter generates
-- calls to, and the COPY door of seed 000 §1.4. Deployed by the sqitch change
-- compat_sead_loaders (compat_sead_utility, already deployed, stays as it was). As there:
-- invoker rights, no pinned search_path (table names resolve on the caller's path, as
-- SEAD's pipelines expect), every name inside qualified; idgraph's SECURITY DEFINER
-- functions underneath do the writing and the audit.

-- The submission a Shape Shifter identifier names (see idgraph.ensure_named_submission),
-- so that a pipeline can commit what it allocated:
--   SELECT sead_utility.commit_submission(sead_utility.submission_uuid('my-run'), 'CR-42');
CREATE OR REPLACE FUNCTION sead_utility.submission_uuid(p_submission_identifier text) RETURNS uuid
LANGUAGE sql STABLE STRICT
AS $$
  SELECT coalesce((SELECT s.submission_id FROM idgraph.submissions s WHERE s.submission_name = p_submission_identifier),
                  idgraph.named_submission_uuid(p_submission_identifier))
$$;
COMMENT ON FUNCTION sead_utility.submission_uuid(text) IS
$$The uuid of the submission a submission identifier names: the submission of that name if there is one, else idgraph.named_submission_uuid(identifier) (the identifier itself when it is a uuid).
Example: SELECT sead_utility.commit_submission(sead_utility.submission_uuid('shape-shifter-2026-12-02'));$$;

-- One call per row inside INSERT ... SELECT. plpgsql: its plans are cached per backend.
CREATE OR REPLACE FUNCTION sead_utility.allocate_system_id(
    p_submission_identifier text, p_change_request_identifier text, p_table_name text, p_column_name text,
    p_system_id text DEFAULT NULL, p_data jsonb DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  v_rel regclass := idgraph._resolve_table(p_table_name);
  v_sub uuid;
  v_id bigint;
BEGIN
  IF p_column_name IS NULL THEN
    RAISE EXCEPTION 'column name must not be NULL' USING ERRCODE = '22004';
  END IF;
  -- Before the submission is created: an unregistered target creates nothing.
  PERFORM 1 FROM idgraph.targets t WHERE t.table_oid = v_rel AND t.column_name = p_column_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'target %.% is not registered for allocation', v_rel, quote_ident(p_column_name)
      USING ERRCODE = '42704',
            HINT = 'An idgraph_admin registers targets with idgraph.register_target(table, column).';
  END IF;
  v_sub := idgraph.ensure_named_submission(p_submission_identifier, p_change_request_identifier,
                                           'sead_utility', p_table_name);
  -- A system id is a natural key of the target; without one, a fresh random uuid stands
  -- for the row, so every such call gets an integer of its own.
  SELECT a.alloc_integer_id INTO v_id
    FROM idgraph._allocate(v_sub, v_rel, p_column_name,
                           coalesce(p_system_id, pg_catalog.gen_random_uuid()::text),
                           CASE WHEN p_system_id IS NULL THEN 'uuid' ELSE 'natural_key' END,
                           NULL, p_system_id, p_data) a;
  RETURN sead_utility._int(v_id);
END
$$;
COMMENT ON FUNCTION sead_utility.allocate_system_id(text, text, text, text, text, jsonb) IS
$$SEAD's legacy allocator (Shape Shifter), over idgraph.allocate: race- and collision-free. The same (table, column, system id) always gets the same integer (the system id is its natural key, trimmed); a NULL system id gets a fresh integer per call (a random uuid stands for it). p_submission_identifier names the submission (idgraph.ensure_named_submission): the submission of that name, else one created on first use with uuid sead_utility.submission_uuid(identifier) = the identifier when it is a uuid, else a version-8 uuid from sha256 of it; p_change_request_identifier, when given, is recorded on the submission (a different one later: 22023). p_data is kept as the allocation's external_data (of its first allocation) and the system id as its external_system_id. Unregistered target: 42704. Writers only.
Example: INSERT INTO tbl_x (x_id, a) SELECT sead_utility.allocate_system_id('run-1', 'CR-42', 'tbl_x', 'x_id', n.system_id::text, row_to_json(n.*)::jsonb), n.a FROM new_data n;$$;

-- ---------------------------------------------------------------------------------------
-- The COPY door (seed 000 §1.4): the allocations in SEAD's column names, and
--   COPY sead_utility.identity_allocations (submission_uuid, table_name, column_name,
--        external_id[, external_id_type][, content_hash][, alloc_integer_id][, status]
--        [, submission_name]) FROM STDIN
-- allocating exactly as idgraph.allocate_batch does: the rows are staged by an INSTEAD
-- OF INSERT row trigger and allocated by the statement's AFTER trigger, one set-based
-- call per (submission, target, id type) and idgraph.max_batch_size rows, in one
-- statement: all or nothing. A plain INSERT works the same way.
-- ---------------------------------------------------------------------------------------
-- security_invoker: reading needs the caller's own SELECT on idgraph's tables (readers).
CREATE OR REPLACE VIEW sead_utility.identity_allocations WITH (security_invoker = true) AS
SELECT pg_catalog.md5(a.target_id::text || ':' || a.external_id)::uuid AS allocation_uuid,
       t.table_oid::text AS table_name,
       t.column_name::text COLLATE "default" AS column_name,
       a.external_id,
       a.external_id_type,
       a.alloc_integer_id,
       a.submission_id AS submission_uuid,
       s.submission_name,
       s.change_request_id,
       a.external_system_id,
       a.external_data,
       a.content_hash,
       a.created_at,
       a.created_by,
       a.status,
       a.committed_at
  FROM idgraph.allocations a
  JOIN idgraph.targets t ON t.target_id = a.target_id
  JOIN idgraph.submissions s ON s.submission_id = a.submission_id;
COMMENT ON VIEW sead_utility.identity_allocations IS
$$SEAD's identity_allocations (seed 000 §1.4): every allocation in SEAD's column names (allocation_uuid is derived from target and external id; integers are bigint). COPY ... FROM / INSERT into (submission_uuid, table_name, column_name, external_id[, external_id_type, content_hash, alloc_integer_id, status, submission_name]) allocates as idgraph.allocate_batch, atomically; a supplied alloc_integer_id that differs from the id's integer is refused (22023), as is a status other than 'allocated' and any other column (0A000). Writers insert, readers read.
Example: COPY sead_utility.identity_allocations (submission_uuid, table_name, column_name, external_id) FROM STDIN;$$;

-- Statement start: an empty staging table of this session (ON COMMIT DELETE ROWS).
CREATE OR REPLACE FUNCTION sead_utility._identity_allocations_begin() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF pg_catalog.to_regclass('pg_temp._sead_identity_allocations_load') IS NULL THEN
    CREATE TEMP TABLE _sead_identity_allocations_load (
        ord              bigint GENERATED ALWAYS AS IDENTITY,
        submission_uuid  uuid NOT NULL,
        submission_name  text,
        table_name       text NOT NULL,
        column_name      text NOT NULL,
        external_id      text NOT NULL,
        external_id_type text NOT NULL,
        content_hash     text,
        alloc_integer_id bigint
    ) ON COMMIT DELETE ROWS;
  ELSE
    DELETE FROM pg_temp._sead_identity_allocations_load;
  END IF;
  RETURN NULL;
END
$$;

-- Each row: checked and staged; nothing is allocated yet.
CREATE OR REPLACE FUNCTION sead_utility._identity_allocations_stage() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF NEW.submission_uuid IS NULL OR NEW.table_name IS NULL OR NEW.column_name IS NULL OR NEW.external_id IS NULL THEN
    RAISE EXCEPTION 'submission_uuid, table_name, column_name and external_id must not be NULL (external id %)',
                    quote_nullable(left(NEW.external_id, 100))
      USING ERRCODE = '22004';
  END IF;
  IF NEW.status IS NOT NULL AND NEW.status <> 'allocated' THEN
    RAISE EXCEPTION 'status % cannot be loaded: new allocations are ''allocated''', quote_literal(NEW.status)
      USING ERRCODE = '22023', HINT = 'Commit or roll back the submission instead.';
  END IF;
  IF NEW.allocation_uuid IS NOT NULL OR NEW.change_request_id IS NOT NULL OR NEW.external_system_id IS NOT NULL
     OR NEW.external_data IS NOT NULL OR NEW.created_at IS NOT NULL OR NEW.created_by IS NOT NULL
     OR NEW.committed_at IS NOT NULL THEN
    RAISE EXCEPTION 'only submission_uuid, table_name, column_name, external_id, external_id_type, content_hash, alloc_integer_id, status and submission_name can be loaded'
      USING ERRCODE = '0A000',
            HINT = 'sead_utility.allocate_identity keeps external_system_id and external_data.';
  END IF;
  INSERT INTO pg_temp._sead_identity_allocations_load (submission_uuid, submission_name, table_name, column_name,
                                                      external_id, external_id_type, content_hash, alloc_integer_id)
  VALUES (NEW.submission_uuid, NEW.submission_name, NEW.table_name, NEW.column_name, NEW.external_id,
          coalesce(NEW.external_id_type, 'uuid'), NEW.content_hash, NEW.alloc_integer_id);
  RETURN NEW;
END
$$;

-- Statement end: allocate what was staged, group by group, in a fixed order (concurrent
-- loads over the same targets lock in the same order); any refusal aborts the statement.
CREATE OR REPLACE FUNCTION sead_utility._identity_allocations_apply() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  v_cap integer := coalesce(nullif(pg_catalog.current_setting('idgraph.max_batch_size', true), '')::integer, 10000);
  g record;
  v_bad record;
BEGIN
  FOR g IN
    SELECT c.submission_uuid, c.submission_name, c.table_name, c.column_name, c.external_id_type,
           array_agg(c.external_id ORDER BY c.ord) AS exts, array_agg(c.content_hash ORDER BY c.ord) AS hashes,
           array_agg(c.alloc_integer_id ORDER BY c.ord) AS supplied
      FROM (SELECT l.*, (row_number() OVER (PARTITION BY l.submission_uuid, l.submission_name, l.table_name,
                                                         l.column_name, l.external_id_type ORDER BY l.ord) - 1) / v_cap AS chunk
              FROM pg_temp._sead_identity_allocations_load l) c
     GROUP BY c.table_name, c.column_name, c.submission_uuid, c.submission_name, c.external_id_type, c.chunk
     ORDER BY c.table_name, c.column_name, c.submission_uuid, c.submission_name, c.external_id_type, c.chunk
  LOOP
    IF g.submission_name IS NOT NULL THEN
      PERFORM idgraph.ensure_submission(g.submission_uuid, g.submission_name, 'sead_utility', g.table_name);
    END IF;
    SELECT b.external_id, g.supplied[b.ordinality] AS supplied, b.alloc_integer_id INTO v_bad
      FROM idgraph._allocate_batch(g.submission_uuid, idgraph._resolve_table(g.table_name), g.column_name,
                                   g.exts, g.external_id_type, g.hashes) b
     WHERE g.supplied[b.ordinality] IS DISTINCT FROM b.alloc_integer_id AND g.supplied[b.ordinality] IS NOT NULL
     ORDER BY b.ordinality
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'alloc_integer_id % supplied for % in %.% differs from its integer %; nothing was loaded',
                      v_bad.supplied, quote_literal(v_bad.external_id), g.table_name, g.column_name, v_bad.alloc_integer_id
        USING ERRCODE = '22023', HINT = 'Leave alloc_integer_id out: idgraph assigns it.';
    END IF;
  END LOOP;
  DELETE FROM pg_temp._sead_identity_allocations_load;
  RETURN NULL;
END
$$;

CREATE TRIGGER identity_allocations_begin BEFORE INSERT ON sead_utility.identity_allocations
  FOR EACH STATEMENT EXECUTE FUNCTION sead_utility._identity_allocations_begin();
CREATE TRIGGER identity_allocations_stage INSTEAD OF INSERT ON sead_utility.identity_allocations
  FOR EACH ROW EXECUTE FUNCTION sead_utility._identity_allocations_stage();
CREATE TRIGGER identity_allocations_apply AFTER INSERT ON sead_utility.identity_allocations
  FOR EACH STATEMENT EXECUTE FUNCTION sead_utility._identity_allocations_apply();

REVOKE ALL ON FUNCTION sead_utility.submission_uuid(text),
                       sead_utility.allocate_system_id(text, text, text, text, text, jsonb),
                       sead_utility._identity_allocations_begin(), sead_utility._identity_allocations_stage(),
                       sead_utility._identity_allocations_apply()
  FROM PUBLIC;
REVOKE ALL ON sead_utility.identity_allocations FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sead_utility.submission_uuid(text), idgraph.named_submission_uuid(text) TO idgraph_reader;
GRANT EXECUTE ON FUNCTION sead_utility.allocate_system_id(text, text, text, text, text, jsonb),
                          idgraph.ensure_named_submission(text, text, text, text)
  TO idgraph_writer;
GRANT SELECT ON sead_utility.identity_allocations TO idgraph_reader;
GRANT INSERT ON sead_utility.identity_allocations TO idgraph_writer;
