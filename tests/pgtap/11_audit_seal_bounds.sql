-- seal_audit() and audit_problems() read only the txid range since the previous seal's
-- xmin (issue 9): the same rows, hence the same digests, as the full scan they replace.
-- Real seals need transactions of their own (seal_audit() refuses inside one that has
-- written), so two dblink sessions play a writer and a sealer; what they commit is one
-- audit row each and the seals, which are consistent and leave the trail verifiable.
BEGIN;
SELECT plan(9);
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT format('dbname=%s host=%s port=%s', current_database(),
              split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port')) AS conn \gset

SELECT dblink_connect('w', :'conn') \gset ignore_
SELECT dblink_connect('s', :'conn') \gset ignore_
-- The sealer seals what is there, so that the next seal starts from a known point.
SELECT * FROM dblink('s', 'SELECT idgraph.seal_audit()') AS t(n bigint) \gset ignore_

-- The writer opens a transaction and writes an audit row; the sealer seals while it is open.
SELECT dblink_exec('w', 'BEGIN') \gset ignore_
SELECT * FROM dblink('w', $$SELECT idgraph._audit('register_target', NULL, NULL, NULL, NULL, NULL, 0, 0,
                                                  '{"test": "open during a seal"}', now())$$) AS t(v text) \gset ignore_
SELECT txid AS open_txid FROM dblink('w', 'SELECT pg_current_xact_id()') AS t(txid xid8) \gset
SELECT * FROM dblink('s', $$SELECT idgraph._audit('register_target', NULL, NULL, NULL, NULL, NULL, 0, 0,
                                                  '{"test": "committed before the seal"}', now())$$) AS t(v text) \gset ignore_
SELECT n AS n1 FROM dblink('s', 'SELECT idgraph.seal_audit()') AS t(n bigint) \gset
SELECT max(seal_id) AS seal1 FROM idgraph.audit_seals \gset
SELECT ok(NOT pg_visible_in_snapshot(:'open_txid'::xid8, (SELECT snap FROM idgraph.audit_seals WHERE seal_id = :seal1))
          AND pg_snapshot_xmin((SELECT snap FROM idgraph.audit_seals WHERE seal_id = :seal1)) <= :'open_txid'::xid8,
          'the writer''s transaction was open at seal 1 (at or above its xmin)');
SELECT is(:n1::bigint, 1::bigint, 'seal 1 sealed the committed row only');

-- The writer commits after seal 1: the next seal must take its row.
SELECT dblink_exec('w', 'COMMIT') \gset ignore_
SELECT n AS n2 FROM dblink('s', 'SELECT idgraph.seal_audit()') AS t(n bigint) \gset
SELECT max(seal_id) AS seal2 FROM idgraph.audit_seals \gset
SELECT is(:n2::bigint, 1::bigint, 'seal 2 sealed the row of the transaction that was open during seal 1');
SELECT ok(pg_visible_in_snapshot(:'open_txid'::xid8, (SELECT snap FROM idgraph.audit_seals WHERE seal_id = :seal2)),
          'that row is in seal 2');

-- One more sealed row, so that seal 2 is an old seal.
SELECT * FROM dblink('s', $$SELECT idgraph._audit('register_target', NULL, NULL, NULL, NULL, NULL, 0, 0,
                                                  '{"test": "after seal 2"}', now())$$) AS t(v text) \gset ignore_
SELECT is((SELECT n FROM dblink('s', 'SELECT idgraph.seal_audit()') AS t(n bigint)), 1::bigint, 'seal 3 sealed one row');
SELECT dblink_disconnect('w') \gset ignore_
SELECT dblink_disconnect('s') \gset ignore_

-- Every seal's digest and count, recomputed by the full scan the bounded one replaced.
SELECT is_empty($$
  WITH s AS (SELECT s.*, lag(s.snap) OVER w AS psnap, lag(s.digest) OVER w AS pdigest
               FROM idgraph.audit_seals s WINDOW w AS (PARTITION BY s.sysid ORDER BY s.seal_id))
  SELECT s.seal_id FROM s CROSS JOIN LATERAL (
           SELECT count(*) AS n, string_agg(a.row_hash, ''::bytea ORDER BY a.audit_id) AS agg
             FROM idgraph.audit_log a
            WHERE a.sysid = s.sysid AND pg_visible_in_snapshot(a.txid, s.snap)
              AND (s.psnap IS NULL OR NOT pg_visible_in_snapshot(a.txid, s.psnap))) f
   WHERE f.n <> s.row_count OR s.prev_digest IS DISTINCT FROM s.pdigest
      OR sha256(coalesce(s.pdigest, ''::bytea) || coalesce(f.agg, ''::bytea)) <> s.digest$$,
  'every seal''s rows and digest equal a full recomputation');
SELECT ok(idgraph.verify_audit(), 'verify_audit() is true');

-- Tamper with the row of the old seal 2: rewrite it and its row hash.
ALTER TABLE idgraph.audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE idgraph.audit_log a SET actor = 'mallory' WHERE a.txid = :'open_txid'::xid8;
UPDATE idgraph.audit_log a SET row_hash = idgraph._audit_row_hash(a) WHERE a.txid = :'open_txid'::xid8;
ALTER TABLE idgraph.audit_log ENABLE TRIGGER audit_log_append_only;
SELECT results_eq($$SELECT problem, seal_id FROM idgraph.audit_problems()$$,
                  format($$VALUES ('sealed rows changed'::text, %s::bigint)$$, :seal2),
                  'a rewritten row of an old seal (hash recomputed) is caught by that seal''s digest');
SELECT ok(NOT idgraph.verify_audit(), 'verify_audit() is false');

SELECT * FROM finish();
ROLLBACK;
