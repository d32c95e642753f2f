-- idgraph: tables, sequences and guards. Loaded first (bootstrap) by the extension.
-- Every table whose rows are user data is registered with pg_extension_config_dump so
-- that pg_dump / pg_restore carry its rows (rows of extension tables are not dumped
-- otherwise).

-- Per-target allocation sequences for target columns that have no sequence of their
-- own live in idgraph_alloc. They are created by register_target after CREATE EXTENSION,
-- so they are ordinary objects: pg_dump dumps them with their current values.
CREATE SCHEMA IF NOT EXISTS idgraph_alloc;
COMMENT ON SCHEMA idgraph_alloc IS
  'Allocation sequences idgraph creates for registered target columns that have no sequence of their own.';

-- ---------------------------------------------------------------------------
-- Targets: the whitelist of (table, column) pairs that ids are allocated for.
-- ---------------------------------------------------------------------------
CREATE TABLE idgraph.targets (
    target_id      serial PRIMARY KEY,
    table_oid      regclass NOT NULL,      -- dumped as its name, so it survives restore
    column_name    name NOT NULL,
    alloc_seq      regclass NOT NULL,      -- the column's own sequence, or one in idgraph_alloc
    seq_is_columns boolean NOT NULL,       -- true when alloc_seq is the column's own sequence
    start_above    bigint NOT NULL,        -- max(column) / sequence position at registration
    registered_at  timestamptz NOT NULL DEFAULT now(),
    registered_by  text NOT NULL DEFAULT session_user,
    UNIQUE (table_oid, column_name)
);
COMMENT ON TABLE idgraph.targets IS
  'Registered allocation targets (table, column). Only registered targets get ids; see idgraph.register_target.';

-- ---------------------------------------------------------------------------
-- Submissions: one ingestion run of a pipeline.
-- ---------------------------------------------------------------------------
CREATE TABLE idgraph.submissions (
    submission_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    submission_name   text NOT NULL UNIQUE CHECK (length(submission_name) BETWEEN 1 AND 200),
    source_system     text NOT NULL CHECK (length(source_system) BETWEEN 1 AND 200),
    data_type         text NOT NULL CHECK (length(data_type) BETWEEN 1 AND 200),
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'validated', 'committed', 'failed', 'rolled_back')),
    notes             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text NOT NULL,
    created_by_team   text,
    committed_at      timestamptz,
    change_request_id text,
    rolled_back_at    timestamptz,
    rollback_reason   text,
    external_data     jsonb,
    created_by_claim  text,                -- create_submission(p_created_by) when it names someone else
    submission_no     serial NOT NULL UNIQUE -- what its allocation rows name it by (4 bytes, not 16)
);
COMMENT ON TABLE idgraph.submissions IS
  'Submissions (ingestion runs). Status pending -> committed | rolled_back; statistics come from idgraph.audit_log.';

-- An allocation's status, from its owner submission's: the one rule.
CREATE FUNCTION idgraph._allocation_status(p_submission_status text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE p_submission_status WHEN 'committed' THEN 'committed'
                                  WHEN 'rolled_back' THEN 'rolled_back'
                                  WHEN 'failed' THEN 'rolled_back'
                                  ELSE 'allocated' END
$$;
COMMENT ON FUNCTION idgraph._allocation_status(text) IS
  'The status of an allocation owned by a submission of this status (internal: allocations have no status of their own).';

-- ---------------------------------------------------------------------------
-- Allocations: (target, external id) -> integer, forever.
--
-- The layout is sized for a billion rows (issue 9: at most 120 bytes per committed
-- allocation, table and indexes together):
--   * a uuid external id is kept as its 16 bytes (id_key), a natural key as its text
--     beside a 16-byte key from its sha256 (idgraph.external_id_key), so that the one
--     btree is over (target_id, id_key): 36 bytes an entry whatever the id;
--   * the owner is the submission's 4-byte number, and the row has no status: an
--     allocation is pending, committed or rolled back as its owner is, so that commit
--     and rollback write the submission's row, not every allocation row; the rows that
--     change owner (revived, handed over, committed by a sharer) are the only ones written;
--   * the integer and the owner are found by BRIN (rollback, resolve_integer): a few bytes
--     per 16 pages, where a btree on each cost 30 and 14 bytes a row. Integers are unique
--     per target because each target draws them from its own guarded sequence
--     (idgraph.register_target, idgraph._guard_sequence_ddl).
-- Up to eight columns, so that the row's null bitmap fits its 24-byte header: a uuid
-- allocation without content hash or data is 56 bytes + a 4-byte line pointer.
-- When and by whom each allocation was made is in its audit row (idgraph.audit_log).
-- ---------------------------------------------------------------------------
CREATE TABLE idgraph.allocation_rows (
    alloc_integer_id   bigint NOT NULL,
    target_id          integer NOT NULL,
    submission_no      integer NOT NULL,   -- the owner: idgraph.submissions.submission_no
    id_key             uuid NOT NULL,      -- idgraph.external_id_key(external id)
    natural_key        text,               -- the external id of a natural key; NULL for a uuid
    content_hash       text,
    external_system_id text,
    external_data      jsonb,
    CONSTRAINT allocation_rows_pkey PRIMARY KEY (target_id, id_key)
);
CREATE INDEX allocation_rows_owner_brin ON idgraph.allocation_rows
  USING brin (submission_no) WITH (pages_per_range = 16, autosummarize = on);
CREATE INDEX allocation_rows_integer_brin ON idgraph.allocation_rows
  USING brin (target_id, alloc_integer_id) WITH (pages_per_range = 16, autosummarize = on);
COMMENT ON TABLE idgraph.allocation_rows IS
  'Storage of the allocations (read them through the view idgraph.allocations): one row per (target, external id key), its integer forever, its owner submission. Rows are never deleted.';

-- Allocations made before 0.2.0 had their own time and maker in the row: the upgrade
-- keeps them here (a fresh install leaves it empty).
CREATE TABLE idgraph.allocation_origins (
    target_id   integer NOT NULL,
    id_key      uuid NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  text NOT NULL,
    PRIMARY KEY (target_id, id_key)
);
COMMENT ON TABLE idgraph.allocation_origins IS
  'When and by whom each allocation made before 0.2.0 was created (0.2.0 keeps that in the audit rows instead).';

-- An allocation row's external id and its type: a natural key's text, else the uuid that
-- is its own key (idgraph.external_id_key). Inlined where they are used.
CREATE FUNCTION idgraph._external_id(p_natural_key text, p_id_key uuid) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(p_natural_key, p_id_key::text) $$;
COMMENT ON FUNCTION idgraph._external_id(text, uuid) IS
  'The external id of an allocation row: its natural key, else its uuid key (internal).';
CREATE FUNCTION idgraph._external_id_type(p_natural_key text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN p_natural_key IS NULL THEN 'uuid' ELSE 'natural_key' END $$;
COMMENT ON FUNCTION idgraph._external_id_type(text) IS
  'The external id type of an allocation row: natural_key when it keeps a natural key''s text, else uuid (internal).';

-- What an allocation is, in the words of 0.1.0's table of this name: its external id and
-- type, its status (its owner's), and when its owner was created and committed.
CREATE VIEW idgraph.allocations AS
SELECT a.target_id,
       idgraph._external_id(a.natural_key, a.id_key) AS external_id,
       a.alloc_integer_id,
       idgraph._external_id_type(a.natural_key) AS external_id_type,
       s.submission_id,
       idgraph._allocation_status(s.status) AS status,
       a.content_hash,
       a.external_system_id,
       a.external_data,
       coalesce(g.created_at, s.created_at) AS created_at,
       coalesce(g.created_by, s.created_by) AS created_by,
       CASE WHEN s.status = 'committed' THEN s.committed_at END AS committed_at
  FROM idgraph.allocation_rows a
  JOIN idgraph.submissions s ON s.submission_no = a.submission_no
  LEFT JOIN idgraph.allocation_origins g ON g.target_id = a.target_id AND g.id_key = a.id_key;
COMMENT ON VIEW idgraph.allocations IS
  'One row per (target, external id): its integer, forever, and its status, which is its owner submission''s (pending: allocated). Rolled-back rows keep their integer reserved for the same external id. created_at / created_by are the owner submission''s (of an allocation made before 0.2.0: its own); the audit row of each call has its own time and actor.';

-- Allocations are written by idgraph's functions only: the view refuses writes (a role
-- without privileges on it gets 42501 before this, from the privilege check).
CREATE FUNCTION idgraph._allocations_read_only() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  RAISE EXCEPTION 'idgraph.allocations is written only by idgraph''s functions (allocate, allocate_batch, commit_submission, rollback_submission)'
    USING ERRCODE = '42501';
END
$$;
CREATE TRIGGER allocations_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON idgraph.allocations
  FOR EACH ROW EXECUTE FUNCTION idgraph._allocations_read_only();

-- An id allocated by one pending submission and then used by another: the second one
-- "shares" it. Its commit commits the row; the owner's rollback hands the row over to a
-- pending sharer instead of rolling back an integer that other data now uses.
CREATE TABLE idgraph.allocation_shares (
    target_id      integer NOT NULL,
    external_id    text NOT NULL,
    submission_id  uuid NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target_id, external_id, submission_id)
    -- No foreign key: allocation rows are keyed by idgraph.external_id_key(external_id)
    -- and are never deleted.
);
CREATE INDEX allocation_shares_submission_idx ON idgraph.allocation_shares (submission_id);
COMMENT ON TABLE idgraph.allocation_shares IS
  'Pending allocations owned by one submission and used by another (see idgraph.commit_submission / rollback_submission).';

-- ---------------------------------------------------------------------------
-- Audit: append-only, tamper-evident.
--
-- Each row carries row_hash = sha256 of its canonical text. Rows are sealed in batches:
-- a seal records a snapshot and the sha256 chain over the hashes of all rows that became
-- visible since the previous seal. Allocations never wait on a shared lock for this:
-- only sealers (verify_audit, commit, rollback) serialize among themselves.
-- ---------------------------------------------------------------------------
CREATE TABLE idgraph.audit_log (
    audit_id       bigserial PRIMARY KEY,
    logged_at      timestamptz NOT NULL DEFAULT now(),
    actor          text NOT NULL,          -- the principal the facade set through idgraph.set_principal, else session_user
    db_user        text NOT NULL DEFAULT session_user,
    action         text NOT NULL CHECK (action IN ('register_target', 'create_submission', 'allocate',
                                                   'allocate_batch', 'commit', 'rollback')),
    submission_id  uuid,
    target_id      integer,
    external_id    text,
    alloc_integer_id bigint,
    is_new         boolean,
    n_total        integer NOT NULL DEFAULT 0,
    n_new          integer NOT NULL DEFAULT 0,
    detail         jsonb,
    duration_us    bigint NOT NULL DEFAULT 0,
    txid           xid8 NOT NULL DEFAULT pg_current_xact_id(),
    sysid          bigint NOT NULL,
    row_hash       bytea NOT NULL
);
CREATE INDEX audit_log_submission_idx ON idgraph.audit_log (submission_id) WHERE submission_id IS NOT NULL;
-- seal_audit() reads only the rows of transactions since the previous seal's xmin: a range
-- of txid. A btree: xid8 has no BRIN opclass in PostgreSQL 15, and a BRIN on audit_id would
-- not bound txid (a transaction's xid is taken at its first write, its audit_id later).
-- One key per transaction: ~22 bytes a row when every call is its own transaction, less
-- when a transaction writes several rows (equal keys are deduplicated); ~0.7 µs a row.
CREATE INDEX audit_log_txid_idx ON idgraph.audit_log (txid);
COMMENT ON TABLE idgraph.audit_log IS
  'Append-only record of every allocation call, commit and rollback; UPDATE, DELETE and TRUNCATE are refused. idgraph.verify_audit() checks it.';

CREATE TABLE idgraph.audit_seals (
    seal_id      bigserial PRIMARY KEY,
    sealed_at    timestamptz NOT NULL DEFAULT now(),
    sysid        bigint NOT NULL,
    snap         pg_snapshot NOT NULL,   -- rows visible in snap and not in the previous seal's snap
    row_count    bigint NOT NULL,
    prev_digest  bytea,
    digest       bytea NOT NULL
);
COMMENT ON TABLE idgraph.audit_seals IS
  'Seals over idgraph.audit_log: a sha256 chain that makes removed, inserted or changed audit rows detectable.';

-- The canonical text of an audit row. Timestamps as epoch numerics and no floats, so the
-- text does not depend on DateStyle, TimeZone or extra_float_digits.
-- plpgsql rather than sql: a sql function taking a row is not inlined into the trigger and
-- would be parsed and planned for every audit row; plpgsql caches the expression's plan.
-- No SET clause (it would cost a GUC save/restore per row); everything is qualified.
CREATE FUNCTION idgraph._audit_row_hash(r idgraph.audit_log) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
  RETURN pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.concat_ws('|',
      r.audit_id, EXTRACT(epoch FROM r.logged_at), r.actor, r.db_user, r.action,
      coalesce(r.submission_id::text, '-'), coalesce(r.target_id::text, '-'),
      coalesce(r.external_id, '-'), coalesce(r.alloc_integer_id::text, '-'),
      coalesce(r.is_new::text, '-'), r.n_total, r.n_new, coalesce(r.detail::text, '-'),
      r.duration_us, r.txid, r.sysid), 'UTF8'));
END
$$;
COMMENT ON FUNCTION idgraph._audit_row_hash(idgraph.audit_log) IS
  'sha256 of an audit row''s canonical text (internal to the audit trail).';

-- No SET clause: it would cost a GUC save/restore per row; everything is qualified.
CREATE FUNCTION idgraph._audit_before_insert() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  -- A restore (COPY) brings the original hash along; a new row gets its hash here.
  IF NEW.row_hash IS NULL THEN
    NEW.row_hash := idgraph._audit_row_hash(NEW);
  END IF;
  RETURN NEW;
END
$$;

CREATE FUNCTION idgraph._append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP
    USING ERRCODE = '42501',
          HINT = 'Audit rows are never changed or removed; idgraph.verify_audit() would report it.';
END
$$;

-- Only for rows that come without a hash: the allocation hot path (idgraph._allocate)
-- computes its row's hash in its INSERT, so that no trigger function runs per call; what a
-- row may carry is the same as before (a restore's COPY brings its hash along too), and
-- verify_audit() recomputes every hash with idgraph._audit_row_hash.
CREATE TRIGGER audit_log_hash BEFORE INSERT ON idgraph.audit_log
  FOR EACH ROW WHEN (NEW.row_hash IS NULL) EXECUTE FUNCTION idgraph._audit_before_insert();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON idgraph.audit_log
  FOR EACH ROW EXECUTE FUNCTION idgraph._append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON idgraph.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._append_only();
CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON idgraph.audit_seals
  FOR EACH ROW EXECUTE FUNCTION idgraph._append_only();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON idgraph.audit_seals
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._append_only();

SELECT pg_catalog.pg_extension_config_dump('idgraph.targets', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.targets_target_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.submissions', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.submissions_submission_no_seq', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.allocation_rows', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.allocation_origins', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.allocation_shares', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.audit_log_audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.audit_seals', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.audit_seals_seal_id_seq', '');
