#!/usr/bin/env bash
# Identity allocation bench (issue 2, "Speed"; SPEC §5). Run by benches/run.sh (make bench).
#
# Three contenders on the same cluster in the same run, in alternation so that noise on
# this shared machine hits them alike:
#   floor   bare INSERT … ON CONFLICT DO NOTHING RETURNING with a sequence
#   plpgsql PL/pgSQL check-then-insert with an exception block (SEAD's approach)
#   idgraph idgraph.allocate / idgraph.allocate_batch
# Single allocation at 1, 8 and 32 clients (pgbench -M prepared, BENCH_SECONDS each), then
# a batch of 10,000 new ids BENCH_BATCH_RUNS times (median). The figures and the ratios go
# between the identity-bench markers in benches/README.md; raw output to benches/out/identity.
#
# Settings (environment): BENCH_DB (default idgraph_bench; dropped and re-created — it must
# contain "bench"), BENCH_SECONDS (15), BENCH_CLIENTS ("1 8 32"), BENCH_BATCH_RUNS (7),
# BENCH_BATCH_SIZE (10000), BENCH_README (benches/README.md).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/scripts/env.sh"

BENCH_DB=${BENCH_DB:-idgraph_bench}
BENCH_SECONDS=${BENCH_SECONDS:-15}
BENCH_CLIENTS=${BENCH_CLIENTS:-"1 8 32"}
BENCH_BATCH_RUNS=${BENCH_BATCH_RUNS:-7}
BENCH_BATCH_SIZE=${BENCH_BATCH_SIZE:-10000}
BENCH_README=${BENCH_README:-$ROOT/benches/README.md}
OUT=$ROOT/benches/out/identity
export BENCH_DB BENCH_SECONDS BENCH_CLIENTS BENCH_BATCH_RUNS BENCH_BATCH_SIZE BENCH_README OUT

case "$BENCH_DB" in
  *bench*) ;;
  *) echo "BENCH_DB=$BENCH_DB: the bench drops and re-creates its database, so its name must contain 'bench'" >&2; exit 2 ;;
esac
for tool in pgbench psql sqitch python3; do
  command -v "$tool" >/dev/null || { echo "identity bench: $tool not found (run make setup)" >&2; exit 2; }
done

NPROC=$(nproc)
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$BENCH_DB")
rm -rf "$OUT"
mkdir -p "$OUT"

log "identity bench: fresh database $BENCH_DB (sqitch deploy)"
dropdb --if-exists "$BENCH_DB"
createdb "$BENCH_DB"
(cd "$ROOT/sqitch" && sqitch deploy --verify "db:pg://$PGUSER@/$BENCH_DB") >"$OUT/sqitch.log" 2>&1 \
  || { cat "$OUT/sqitch.log" >&2; exit 1; }
"${PSQL[@]}" -v batch_runs="$BENCH_BATCH_RUNS" -v batch_size="$BENCH_BATCH_SIZE" -f "$HERE/setup.sql"
SUB=$("${PSQL[@]}" -Atc "SELECT submission_id FROM bench_meta")

# Machine and server, for the README.
{
  echo "nproc=$NPROC"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "mem=$(free -h | awk '/^Mem:/ {print $2}')"
  echo "kernel=$(uname -r)"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "pg=$("${PSQL[@]}" -Atc 'SHOW server_version')"
  echo "pgbench=$(pgbench --version)"
  echo "extversion=$("${PSQL[@]}" -Atc "SELECT extversion FROM pg_extension WHERE extname = 'idgraph'")"
  "${PSQL[@]}" -AtF= -c "SELECT name, current_setting(name) FROM pg_settings
     WHERE name IN ('synchronous_commit', 'shared_buffers', 'fsync', 'full_page_writes', 'wal_level',
                    'max_wal_size', 'checkpoint_timeout', 'wal_buffers', 'max_connections', 'work_mem')
     ORDER BY name" | sed 's/^/setting_/'
} >"$OUT/machine.txt"
free -h >"$OUT/free.txt"

checkpoint() { "${PSQL[@]}" -c CHECKPOINT; }

# pgbench one contender: single <who> <clients>
single() {
  local who=$1 c=$2 j
  j=$(( c < NPROC ? c : NPROC ))
  checkpoint
  log "identity bench: $who, $c client(s), ${BENCH_SECONDS}s"
  pgbench -n -M prepared -c "$c" -j "$j" -T "$BENCH_SECONDS" -P 5 \
          -l --sampling-rate=0.1 --log-prefix="$OUT/log_${who}_c${c}" \
          -D sub="$SUB" -f "$HERE/single_${who}.sql" "$BENCH_DB" \
          >"$OUT/single_${who}_c${c}.txt" 2>"$OUT/single_${who}_c${c}.err" \
    || { cat "$OUT/single_${who}_c${c}.err" >&2; return 1; }
  grep -E '^(tps|latency average)' "$OUT/single_${who}_c${c}.txt" | sed 's/^/    /' >&2
}

# pgbench one batch of BENCH_BATCH_SIZE new ids: batch <who> <run>
batch() {
  local who=$1 r=$2
  checkpoint
  pgbench -n -M prepared -c 1 -t 1 -D sub="$SUB" -D run="$r" -f "$HERE/batch_${who}.sql" "$BENCH_DB" \
          >"$OUT/batch_${who}_r${r}.txt" 2>"$OUT/batch_${who}_r${r}.err" \
    || { cat "$OUT/batch_${who}_r${r}.err" >&2; return 1; }
  echo "    batch $who run $r: $(grep -E '^latency average' "$OUT/batch_${who}_r${r}.txt")" >&2
}

# Warm up every code path once (plans, caches), untimed.
pgbench -n -M prepared -c 1 -T 2 -D sub="$SUB" -f "$HERE/single_floor.sql" -f "$HERE/single_plpgsql.sql" \
        -f "$HERE/single_idgraph.sql" "$BENCH_DB" >"$OUT/warmup.txt" 2>&1

for c in $BENCH_CLIENTS; do
  for who in floor plpgsql idgraph; do
    single "$who" "$c"
  done
done

log "identity bench: batches of $BENCH_BATCH_SIZE new ids, $BENCH_BATCH_RUNS runs each"
for r in $(seq 1 "$BENCH_BATCH_RUNS"); do
  # Alternate which contender goes first.
  if (( r % 2 )); then batch floor "$r"; batch idgraph "$r"; else batch idgraph "$r"; batch floor "$r"; fi
done

# Sanity: every contender really allocated new ids, and idgraph's batches were all new.
"${PSQL[@]}" -AtF= >"$OUT/counts.txt" <<SQL
SELECT 'floor_rows', count(*) FROM bench_floor;
SELECT 'plpgsql_rows', count(*) FROM bench_sead_allocations;
SELECT 'idgraph_rows', count(*) FROM idgraph.allocations a JOIN bench_meta m ON a.target_id = m.target_id;
SELECT 'idgraph_audit_rows', count(*) FROM idgraph.audit_log a JOIN bench_meta m ON a.submission_id = m.submission_id
 WHERE a.action IN ('allocate', 'allocate_batch');
SELECT 'idgraph_batch_new', coalesce(sum(n_new), 0) FROM idgraph.audit_log a JOIN bench_meta m ON a.submission_id = m.submission_id
 WHERE a.action = 'allocate_batch';
SQL
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"

python3 "$HERE/report.py"
