#!/usr/bin/env bash
# Identity latency and bytes-per-allocation bench (issue 9). Run by benches/run.sh (make bench).
#
# 1. Seed 000's latency table at BENCH_CLIENTS (8) clients, pgbench -M prepared with the full
#    transaction log (--log), p50/p95/p99 computed by report.py from every transaction:
#      single idgraph.allocate · allocate_batch of 100 new ids · resolve of an existing id
#      (BENCH_SECONDS each), and commit_submission of submissions holding BENCH_COMMIT_SIZE
#      (10,000) allocations each, prepared first with allocate_batch, each client committing
#      its own (BENCH_COMMITS in all, default 24 = 3 per client).
# 2. Bytes per allocation: a fresh target filled with BENCH_ROWS (1M) allocations through
#    allocate_batch in batches of 10,000, one submission per batch, each committed; VACUUM;
#    pg_total_relation_size of idgraph.allocation_rows (+ allocation_origins) per row and of idgraph.audit_log per audit
#    row and per allocation call, extrapolated to 1e9 allocations.
# The figures go between the identity-latency-bench markers in benches/README.md; raw output
# to benches/out/identity_latency.
#
# Settings (environment): BENCH_DB (default idgraph_bench_latency; dropped and re-created — it
# must contain "bench"), BENCH_SECONDS (10), BENCH_CLIENTS (8), BENCH_COMMITS (24),
# BENCH_COMMIT_SIZE (10000), BENCH_ROWS (1000000), BENCH_README (benches/README.md).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/scripts/env.sh"

BENCH_DB=${BENCH_DB:-idgraph_bench_latency}
BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_CLIENTS=${BENCH_CLIENTS:-8}
BENCH_COMMITS=${BENCH_COMMITS:-24}
BENCH_COMMIT_SIZE=${BENCH_COMMIT_SIZE:-10000}
BENCH_ROWS=${BENCH_ROWS:-1000000}
BENCH_FILL_BATCH=10000
BENCH_README=${BENCH_README:-$ROOT/benches/README.md}
OUT=$ROOT/benches/out/identity_latency
export BENCH_DB BENCH_SECONDS BENCH_CLIENTS BENCH_COMMITS BENCH_COMMIT_SIZE BENCH_ROWS BENCH_FILL_BATCH BENCH_README OUT

case "$BENCH_DB" in
  *bench*) ;;
  *) echo "BENCH_DB=$BENCH_DB: the bench drops and re-creates its database, so its name must contain 'bench'" >&2; exit 2 ;;
esac
for tool in pgbench psql sqitch python3; do
  command -v "$tool" >/dev/null || { echo "identity_latency bench: $tool not found (run make setup)" >&2; exit 2; }
done
for v in BENCH_SECONDS BENCH_CLIENTS BENCH_COMMITS BENCH_COMMIT_SIZE BENCH_ROWS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$v=${!v}: a positive integer, please" >&2; exit 2; }
done
# Each client commits its own submissions: round the number of commits up to a multiple of the clients.
PER=$(( (BENCH_COMMITS + BENCH_CLIENTS - 1) / BENCH_CLIENTS ))
BENCH_COMMITS=$(( PER * BENCH_CLIENTS ))
NFILL=$(( (BENCH_ROWS + BENCH_FILL_BATCH - 1) / BENCH_FILL_BATCH ))
BENCH_ROWS=$(( NFILL * BENCH_FILL_BATCH ))
export BENCH_COMMITS BENCH_ROWS

NPROC=$(nproc)
J=$(( BENCH_CLIENTS < NPROC ? BENCH_CLIENTS : NPROC ))
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$BENCH_DB")
rm -rf "$OUT"
mkdir -p "$OUT"
T_START=$(date +%s)
{
  echo "date_start=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"

log "identity_latency bench: fresh database $BENCH_DB (sqitch deploy)"
dropdb --if-exists "$BENCH_DB"
createdb "$BENCH_DB"
trap 'dropdb --if-exists "$BENCH_DB" || true' EXIT
(cd "$ROOT/sqitch" && sqitch deploy --verify "db:pg://$PGUSER@/$BENCH_DB") >"$OUT/sqitch.log" 2>&1 \
  || { cat "$OUT/sqitch.log" >&2; exit 1; }
"${PSQL[@]}" -f "$HERE/setup.sql"
SUB=$("${PSQL[@]}" -Atc "SELECT submission_id FROM bench_meta")

{
  echo "nproc=$NPROC"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "mem=$(free -h | awk '/^Mem:/ {print $2}')"
  echo "pg=$("${PSQL[@]}" -Atc 'SHOW server_version')"
  echo "pgbench=$(pgbench --version)"
  echo "extversion=$("${PSQL[@]}" -Atc "SELECT extversion FROM pg_extension WHERE extname = 'idgraph'")"
  echo "head=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  "${PSQL[@]}" -AtF= -c "SELECT name, current_setting(name) FROM pg_settings
     WHERE name IN ('synchronous_commit', 'shared_buffers', 'fsync', 'max_wal_size', 'work_mem', 'autovacuum')
     ORDER BY name" | sed 's/^/setting_/'
} >>"$OUT/machine.txt"

checkpoint() { "${PSQL[@]}" -c CHECKPOINT; }

# ---- 2. Bytes per allocation (first, on an otherwise idle target) ------------------------
log "identity_latency bench: bytes — $BENCH_ROWS allocations into bench_bytes_target, $NFILL batches of $BENCH_FILL_BATCH"
sizes() { # sizes <label>: relation sizes and row counts, as label_key=value lines
  "${PSQL[@]}" -AtF= -v label="$1" <<'SQL'
SELECT :'label' || '_' || k, v FROM (VALUES
  ('alloc_total', pg_total_relation_size('idgraph.allocation_rows') + pg_total_relation_size('idgraph.allocation_origins')),
  ('alloc_heap', pg_relation_size('idgraph.allocation_rows')),
  ('alloc_toast', coalesce((SELECT pg_total_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'idgraph.allocation_rows'::regclass AND reltoastrelid <> 0), 0)),
  ('alloc_indexes', pg_indexes_size('idgraph.allocation_rows')),
  ('alloc_rows', (SELECT count(*) FROM idgraph.allocation_rows)),
  ('audit_total', pg_total_relation_size('idgraph.audit_log')),
  ('audit_rows', (SELECT count(*) FROM idgraph.audit_log)),
  ('audit_calls', (SELECT count(*) FROM idgraph.audit_log WHERE action IN ('allocate', 'allocate_batch'))),
  ('subs_total', pg_total_relation_size('idgraph.submissions')),
  ('subs_rows', (SELECT count(*) FROM idgraph.submissions))) t(k, v);
SQL
}
"${PSQL[@]}" -c "VACUUM idgraph.allocation_rows, idgraph.audit_log, idgraph.submissions"
sizes before >"$OUT/bytes.txt"
{
  echo "SET client_min_messages = warning;"
  for i in $(seq 1 "$NFILL"); do
    cat <<SQL
SELECT idgraph.create_submission('bytes-bench-$i', 'bench', 'bench_bytes_target') AS s \\gset
SELECT count(*) AS n FROM idgraph.allocate_batch(:'s', 'bench_bytes_target', 'id',
         ARRAY(SELECT gen_random_uuid()::text FROM generate_series(1, $BENCH_FILL_BATCH)), 'uuid') \\gset
SELECT allocations_committed AS c FROM idgraph.commit_submission(:'s') \\gset
SQL
  done
} >"$OUT/fill.sql"
t0=$(date +%s.%N)
"${PSQL[@]}" -f "$OUT/fill.sql"
t1=$(date +%s.%N)
sizes committed >>"$OUT/bytes.txt"
"${PSQL[@]}" -c "VACUUM idgraph.allocation_rows, idgraph.audit_log, idgraph.submissions"
t2=$(date +%s.%N)
sizes vacuumed >>"$OUT/bytes.txt"
# Per index, after VACUUM.
"${PSQL[@]}" -AtF'|' -c "SELECT c.relname, pg_relation_size(c.oid), pg_get_indexdef(c.oid)
   FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  WHERE i.indrelid = 'idgraph.allocation_rows'::regclass ORDER BY 1" >"$OUT/indexes.txt"
"${PSQL[@]}" -AtF'|' -c "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attlen
   FROM pg_attribute a WHERE a.attrelid = 'idgraph.allocation_rows'::regclass AND a.attnum > 0 AND NOT a.attisdropped
  ORDER BY a.attnum" >"$OUT/columns.txt"
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "fill_seconds=%.1f\nvacuum_seconds=%.1f\n", b - a, c - b }' >>"$OUT/bytes.txt"
"${PSQL[@]}" -c "ANALYZE idgraph.allocation_rows, idgraph.audit_log, idgraph.submissions"
# Average stored widths over the whole table (uuid-text rows of the fill, md5 seed rows).
"${PSQL[@]}" -AtF= -c "SELECT 'avg_width_' || attname, avg_width FROM pg_stats WHERE schemaname = 'idgraph' AND tablename = 'allocation_rows'" >>"$OUT/bytes.txt" || true

# ---- 1. Latency at BENCH_CLIENTS clients --------------------------------------------------
lat() { # lat <name> <script> [pgbench args...]: BENCH_CLIENTS clients, full transaction log
  local name=$1 script=$2; shift 2
  checkpoint
  log "identity_latency bench: $name, $BENCH_CLIENTS clients $*"
  nice -n 10 pgbench -n -M prepared -c "$BENCH_CLIENTS" -j "$J" "$@" \
        -l --log-prefix="$OUT/log_${name}" -D sub="$SUB" -f "$HERE/$script" "$BENCH_DB" \
        >"$OUT/${name}.txt" 2>"$OUT/${name}.err" \
    || { cat "$OUT/${name}.err" >&2; return 1; }
  grep -E '^(tps|latency average|number of failed)' "$OUT/${name}.txt" | sed 's/^/    /' >&2
}

# Warm-up, untimed: plans and caches for every path.
nice -n 10 pgbench -n -M prepared -c 1 -T 2 -D sub="$SUB" -f "$HERE/single_allocate.sql" \
  -f "$HERE/batch100.sql" -f "$HERE/resolve.sql" "$BENCH_DB" >"$OUT/warmup.txt" 2>&1

lat allocate single_allocate.sql -T "$BENCH_SECONDS"
lat batch100 batch100.sql -T "$BENCH_SECONDS"
lat resolve resolve.sql -T "$BENCH_SECONDS"

# BENCH_COMMITS submissions for the concurrent run, SERIAL_COMMITS more for a one-client run beside it.
SERIAL_COMMITS=4
export SERIAL_COMMITS
log "identity_latency bench: preparing $BENCH_COMMITS + $SERIAL_COMMITS submissions of $BENCH_COMMIT_SIZE allocations"
{
  echo "SET client_min_messages = warning;"
  for n in $(seq 1 $(( BENCH_COMMITS + SERIAL_COMMITS ))); do
    cat <<SQL
SELECT idgraph.create_submission('commit-bench-$n', 'bench', 'bench_target') AS s \\gset
INSERT INTO bench_commit_subs VALUES ($n, :'s');
SELECT count(*) AS n FROM idgraph.allocate_batch(:'s', 'bench_target', 'id',
         ARRAY(SELECT gen_random_uuid()::text FROM generate_series(1, $BENCH_COMMIT_SIZE)), 'uuid') \\gset
SQL
  done
} >"$OUT/prepare_commits.sql"
"${PSQL[@]}" -f "$OUT/prepare_commits.sql"
"${PSQL[@]}" -c "VACUUM ANALYZE idgraph.allocation_rows, idgraph.submissions, bench_commit_subs"
lat commit commit.sql -t "$PER" -D k=0 -D base=0 -D per="$PER"
# The same commits one at a time from one client (context for the concurrent figure on few cores).
checkpoint
log "identity_latency bench: commit, 1 client, $SERIAL_COMMITS commits"
nice -n 10 pgbench -n -M prepared -c 1 -j 1 -t "$SERIAL_COMMITS" -l --log-prefix="$OUT/log_commit1" \
      -D k=0 -D base="$BENCH_COMMITS" -D per="$SERIAL_COMMITS" -f "$HERE/commit.sql" "$BENCH_DB" \
      >"$OUT/commit1.txt" 2>"$OUT/commit1.err" || { cat "$OUT/commit1.err" >&2; exit 1; }

# The audit log after every phase (its single allocations give one audit row per call in bulk).
"${PSQL[@]}" -c "VACUUM idgraph.allocation_rows, idgraph.audit_log, idgraph.submissions"
sizes final >>"$OUT/bytes.txt"
"${PSQL[@]}" -AtF= -c "SELECT 'final_audit_' || action, count(*) FROM idgraph.audit_log GROUP BY action ORDER BY 1" >>"$OUT/bytes.txt"
"${PSQL[@]}" -AtF= -c "SELECT 'audit_avg_width_' || attname, avg_width FROM pg_stats WHERE schemaname = 'idgraph' AND tablename = 'audit_log'" >>"$OUT/bytes.txt" || true
"${PSQL[@]}" -AtF= >"$OUT/counts.txt" <<SQL
SELECT 'commit_subs_committed', count(*) FROM idgraph.submissions s JOIN bench_commit_subs b ON b.sub = s.submission_id WHERE s.status = 'committed';
SELECT 'commit_allocs_committed', coalesce(sum(a.n_new), 0) FROM idgraph.audit_log a JOIN bench_commit_subs b ON b.sub = a.submission_id WHERE a.action = 'allocate_batch';
SELECT 'commit_audit_rows', count(*) FROM idgraph.audit_log a JOIN bench_commit_subs b ON b.sub = a.submission_id WHERE a.action = 'commit';
SELECT 'latency_target_rows', count(*) FROM idgraph.allocations a JOIN bench_meta m ON a.target_id = m.target_id;
SQL
{
  echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "elapsed_seconds=$(( $(date +%s) - T_START ))"
} >>"$OUT/machine.txt"

python3 "$HERE/report.py"
