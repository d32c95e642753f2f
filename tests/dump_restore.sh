#!/usr/bin/env bash
# pg_dump / pg_restore keeps every allocation, submission, audit row and seal.
# Usage: tests/dump_restore.sh DB   (DB only names the scratch databases: DB_dsrc, DB_ddst)
# Deploys DB_dsrc with sqitch, makes a committed, a rolled-back and a pending submission over
# two targets (one with its own sequence, one using an idgraph_alloc sequence), seals the audit,
# dumps with pg_dump -Fc, restores into a fresh DB_ddst and compares. Exits non-zero on any mismatch.
. "$(dirname "$0")/../scripts/env.sh"
cd "$(dirname "$0")/.."
BASE=${1:-idgraph_test}
SRC=${BASE}_dsrc
DST=${BASE}_ddst
DUMP=$(mktemp --suffix=.dump)
fail() { log "dump_restore: FAIL: $*"; exit 1; }
cleanup() {
  rm -f "$DUMP"
  dropdb --if-exists --force "$SRC" 2>/dev/null || true
  dropdb --if-exists --force "$DST" 2>/dev/null || true
}
trap cleanup EXIT
q() { local db=$1; shift; psql -XAtq -v ON_ERROR_STOP=1 -d "$db" "$@"; }

dropdb --if-exists --force "$SRC" 2>/dev/null
dropdb --if-exists --force "$DST" 2>/dev/null
createdb "$SRC"
(cd sqitch && sqitch deploy "db:pg://postgres@/$SRC" >/dev/null) || fail "sqitch deploy into $SRC"

# Two targets with pre-existing rows: t_seq has its own sequence, t_plain has none (idgraph
# keeps one in idgraph_alloc, which must survive the dump too).
q "$SRC" <<'SQL' >/dev/null || fail "setup in $SRC"
CREATE TABLE public.t_seq (id serial PRIMARY KEY, name text);
INSERT INTO public.t_seq (name) SELECT 'old ' || g FROM generate_series(1, 100) g;
CREATE TABLE public.t_plain (id bigint PRIMARY KEY, name text);
INSERT INTO public.t_plain SELECT g * 10, 'old' FROM generate_series(1, 30) g;
SELECT * FROM idgraph.register_target('public.t_seq', 'id');
SELECT * FROM idgraph.register_target('t_plain', 'id');

CREATE TEMP TABLE ids AS
  SELECT s, g, md5('dump-' || s || '-' || g)::uuid::text AS ext
    FROM unnest(ARRAY['committed', 'rolled_back', 'pending']) s, generate_series(1, 200) g;
CREATE TEMP TABLE subs AS
  SELECT s, idgraph.create_submission('dump ' || s, 'dump_restore.sh', 'test') AS sub
    FROM unnest(ARRAY['committed', 'rolled_back', 'pending']) s;
-- Per submission: a batch into t_seq, single calls into t_plain, natural keys too.
SELECT count(*) FROM subs, LATERAL idgraph.allocate_batch(sub, 't_seq', 'id',
         (SELECT array_agg(ext ORDER BY g) FROM ids WHERE ids.s = subs.s));
SELECT count(*) FROM subs JOIN ids USING (s), LATERAL idgraph.allocate(sub, 'public.t_plain', 'id', ext)
 WHERE g <= 50;
SELECT count(*) FROM subs, LATERAL idgraph.allocate(sub, 't_plain', 'id', 'KEY-' || s, 'natural_key');
SELECT * FROM idgraph.commit_submission((SELECT sub FROM subs WHERE s = 'committed'), 'CR-dump');
SELECT * FROM idgraph.rollback_submission((SELECT sub FROM subs WHERE s = 'rolled_back'), 'dump test');
SQL
[ "$(q "$SRC" -c 'SELECT idgraph.verify_audit()')" = t ] || fail "verify_audit() false in $SRC before the dump"
[ "$(q "$SRC" -c 'SELECT count(*) > 0 FROM idgraph.audit_seals')" = t ] || fail "verify_audit() sealed nothing"
# One more call after the seal, so the dump also carries audit rows no seal covers yet.
q "$SRC" -c "SELECT alloc_integer_id FROM idgraph.allocate((SELECT submission_id FROM idgraph.submissions WHERE submission_name = 'dump pending'), 't_seq', 'id', 'unsealed-key', 'natural_key')" >/dev/null \
  || fail "allocation after the seal"
[ "$(q "$SRC" -c "SELECT string_agg(status || ':' || n, ',' ORDER BY status) FROM (SELECT status, count(*) n FROM idgraph.allocations GROUP BY status) x")" \
  = "allocated:252,committed:251,rolled_back:251" ] || fail "unexpected allocations in $SRC"

pg_dump -Fc -f "$DUMP" "$SRC" || fail "pg_dump $SRC"
createdb "$DST"
pg_restore --exit-on-error -d "$DST" "$DUMP" || fail "pg_restore into $DST"

# Row-for-row comparison (md5 of the ordered rows as text) and counts.
checks=(
  "allocations|SELECT count(*) || ' ' || md5(coalesce(string_agg(a::text, E'\n' ORDER BY a.target_id, a.external_id), '')) FROM idgraph.allocations a"
  "submissions|SELECT count(*) || ' ' || md5(coalesce(string_agg(s::text, E'\n' ORDER BY s.submission_id), '')) FROM idgraph.submissions s"
  "audit_log|SELECT count(*) || ' ' || md5(coalesce(string_agg(a::text, E'\n' ORDER BY a.audit_id), '')) FROM idgraph.audit_log a"
  "audit_seals|SELECT count(*) || ' ' || md5(coalesce(string_agg(s::text, E'\n' ORDER BY s.seal_id), '')) FROM idgraph.audit_seals s"
  "targets|SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t.target_id), '')) FROM idgraph.targets t"
  "target rows|SELECT (SELECT count(*) FROM public.t_seq) || ' ' || (SELECT count(*) FROM public.t_plain)"
)
for c in "${checks[@]}"; do
  name=${c%%|*}; sql=${c#*|}
  a=$(q "$SRC" -c "$sql") || fail "query $name in $SRC"
  b=$(q "$DST" -c "$sql") || fail "query $name in $DST"
  [ "$a" = "$b" ] || fail "$name differ after restore: $SRC has '$a', $DST has '$b'"
  case $name in target*) ;; *) [ "${a%% *}" -gt 0 ] || fail "$name is empty in $SRC" ;; esac
  log "dump_restore: $name identical ($a)"
done

[ "$(q "$DST" -c 'SELECT idgraph.verify_audit()')" = t ] || {
  q "$DST" -c 'SELECT * FROM idgraph.audit_problems()' >&2 || true
  fail "verify_audit() is false in the restored database"
}

# Allocation continues above every old integer, old ids resolve to the same integers, a
# rolled-back id gets its reserved integer back, and the pending submission still commits.
check_target() { # table
  local t=$1 old_max old_id new_id rid rid_id got
  old_max=$(q "$DST" -c "SELECT max(a.alloc_integer_id) FROM idgraph.allocations a JOIN idgraph.targets t USING (target_id) WHERE t.table_oid = 'public.$t'::regclass")
  new_id=$(q "$DST" -c "SELECT alloc_integer_id || ' ' || is_new FROM idgraph.allocate((SELECT submission_id FROM idgraph.submissions WHERE submission_name = 'dump pending'), '$t', 'id', '$(cat /proc/sys/kernel/random/uuid)')") \
    || fail "new allocation into $t in the restored database"
  [ "${new_id#* }" = true ] || fail "new allocation into $t is not new: $new_id"
  [ "${new_id% *}" -gt "$old_max" ] || fail "new integer ${new_id% *} in $t is not above the old maximum $old_max"
  [ "${new_id% *}" -gt "$(q "$DST" -c "SELECT max(id) FROM public.$t")" ] || fail "new integer in $t collides with existing rows"
  old_id=$(q "$SRC" -c "SELECT md5('dump-committed-1')::uuid::text || ' ' || alloc_integer_id FROM idgraph.resolve('$t', 'id', md5('dump-committed-1')::uuid::text)")
  got=$(q "$DST" -c "SELECT md5('dump-committed-1')::uuid::text || ' ' || alloc_integer_id FROM idgraph.resolve('$t', 'id', md5('dump-committed-1')::uuid::text)")
  [ -n "$old_id" ] && [ "$old_id" = "$got" ] || fail "old id resolves differently in $t: '$old_id' before, '$got' after"
  rid_id=$(q "$SRC" -c "SELECT alloc_integer_id FROM idgraph.resolve('$t', 'id', md5('dump-rolled_back-2')::uuid::text)")
  got=$(q "$DST" -c "SELECT alloc_integer_id || ' ' || is_new FROM idgraph.allocate((SELECT submission_id FROM idgraph.submissions WHERE submission_name = 'dump pending'), '$t', 'id', md5('dump-rolled_back-2')::uuid::text)")
  [ "$got" = "$rid_id true" ] || fail "rolled-back id in $t came back as '$got', expected its reserved integer $rid_id"
  log "dump_restore: $t continues at ${new_id% *} (old max $old_max); old ids keep their integers"
}
check_target t_seq
check_target t_plain
# The column's own sequence was restored past every allocated integer.
[ "$(q "$DST" -c "SELECT last_value >= (SELECT max(alloc_integer_id) FROM idgraph.allocations a JOIN idgraph.targets t USING (target_id) WHERE t.table_oid = 'public.t_seq'::regclass) FROM public.t_seq_id_seq")" = t ] \
  || fail "t_seq's sequence is behind the allocated integers after restore"
[ "$(q "$DST" -c "SELECT allocations_committed FROM idgraph.commit_submission((SELECT submission_id FROM idgraph.submissions WHERE submission_name = 'dump pending'))")" = 256 ] \
  || fail "committing the restored pending submission did not commit its 256 allocations"
[ "$(q "$DST" -c 'SELECT idgraph.verify_audit()')" = t ] || fail "verify_audit() false after new work in the restored database"
log "dump_restore: allocations, submissions, audit_log, audit_seals survive pg_dump/pg_restore"
