#!/usr/bin/env bash
# Identity allocation as the target grows (issue 9, "Speed and scale"). Run by benches/run.sh
# (make bench).
#
# For each size in BENCH_SCALES (default 100,000, 1,000,000 and 10,000,000 allocations) the
# idgraph target and the floor's table are grown to that many rows, VACUUM ANALYZEd and
# checkpointed, and then, on both at the same size, in alternation:
#   * a batch of 10,000 new ids, BENCH_BATCH_RUNS (5) times: the floor's one-statement
#     INSERT … SELECT … ON CONFLICT against idgraph.allocate_batch (median, ratio);
#   * BENCH_SECONDS (10) of single idgraph.allocate of new ids and of idgraph.resolve of
#     existing ids at BENCH_CLIENTS (8) clients (pgbench -M prepared): their throughput at
#     each size against the smallest.
# The growth itself is not measured: rows go in set-based, in key order, committed, owned by
# one committed submission (the idgraph rows straight into idgraph.allocation_rows with their
# keys from idgraph.external_id_key, as allocate_batch writes them, without an audit row per
# fill batch); both tables are filled the same way with the same natural keys.
# The figures go between the identity-scale-bench markers in benches/README.md; raw output
# to benches/out/identity_scale.
#
# Settings (environment): BENCH_DB (idgraph_bench_scale; dropped and re-created, must contain
# "bench"), BENCH_SCALES ("100000 1000000 10000000"), BENCH_BATCH_RUNS (5), BENCH_SECONDS (10),
# BENCH_CLIENTS (8), BENCH_README (benches/README.md).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/scripts/env.sh"

BENCH_DB=${BENCH_DB:-idgraph_bench_scale}
BENCH_SCALES=${BENCH_SCALES:-100000 1000000 10000000}
BENCH_BATCH_RUNS=${BENCH_BATCH_RUNS:-5}
BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_CLIENTS=${BENCH_CLIENTS:-8}
BENCH_README=${BENCH_README:-$ROOT/benches/README.md}
OUT=$ROOT/benches/out/identity_scale
export BENCH_DB BENCH_SCALES BENCH_BATCH_RUNS BENCH_SECONDS BENCH_CLIENTS BENCH_README OUT

case "$BENCH_DB" in
  *bench*) ;;
  *) echo "BENCH_DB=$BENCH_DB: the bench drops and re-creates its database, so its name must contain 'bench'" >&2; exit 2 ;;
esac
export PGUSER=${PGUSER:-postgres}
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$BENCH_DB")
NPROC=$(nproc)
J=$(( BENCH_CLIENTS < NPROC ? BENCH_CLIENTS : NPROC ))
rm -rf "$OUT"; mkdir -p "$OUT"
t_start=$(date +%s)

log "identity_scale bench: fresh database $BENCH_DB (sqitch deploy)"
dropdb --if-exists "$BENCH_DB"
createdb "$BENCH_DB"
(cd "$ROOT/sqitch" && sqitch deploy --verify "db:pg://$PGUSER@/$BENCH_DB") >"$OUT/sqitch.log" 2>&1 \
  || { cat "$OUT/sqitch.log" >&2; exit 1; }
"${PSQL[@]}" -v scales="$BENCH_SCALES" -v runs="$BENCH_BATCH_RUNS" -f "$HERE/setup.sql"
SUB=$("${PSQL[@]}" -Atc "SELECT pending FROM bench_meta")
{
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "pg=$("${PSQL[@]}" -Atc 'SHOW server_version')"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "shared_buffers=$("${PSQL[@]}" -Atc 'SHOW shared_buffers')"
  echo "head=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >"$OUT/machine.txt"

have=0
for scale in $BENCH_SCALES; do
  log "identity_scale bench: growing both tables from $have to $scale rows"
  t0=$(date +%s.%N)
  "${PSQL[@]}" -v from=$((have + 1)) -v to="$scale" -f "$HERE/grow.sql"
  "${PSQL[@]}" -c "VACUUM ANALYZE bench_floor, idgraph.allocation_rows, idgraph.submissions" -c CHECKPOINT
  t1=$(date +%s.%N)
  have=$scale
  "${PSQL[@]}" -AtF= -v scale="$scale" >"$OUT/size_$scale.txt" <<'SQL'
SELECT 'grow_seconds', 0;
SELECT 'floor_rows', count(*) FROM bench_floor;
SELECT 'idgraph_rows', count(*) FROM idgraph.allocation_rows a JOIN bench_meta m ON a.target_id = m.target_id;
SELECT 'floor_bytes', pg_total_relation_size('bench_floor');
SELECT 'idgraph_bytes', pg_total_relation_size('idgraph.allocation_rows');
SQL
  sed -i "s/^grow_seconds=0$/grow_seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')/" "$OUT/size_$scale.txt"
  for r in $(seq 1 "$BENCH_BATCH_RUNS"); do
    for who in $( (( r % 2 )) && echo "floor idgraph" || echo "idgraph floor"); do
      "${PSQL[@]}" -c CHECKPOINT
      pgbench -n -M prepared -c 1 -t 1 -D sub="$SUB" -D scale="$scale" -D run="$r" -f "$HERE/batch_${who}.sql" \
              "$BENCH_DB" >"$OUT/batch_${scale}_${who}_r$r.txt" 2>&1 \
        || { cat "$OUT/batch_${scale}_${who}_r$r.txt" >&2; exit 1; }
      echo "    $scale rows, batch $who run $r: $(grep -E '^latency average' "$OUT/batch_${scale}_${who}_r$r.txt")" >&2
    done
  done
  for op in allocate_floor allocate resolve; do
    "${PSQL[@]}" -c CHECKPOINT
    pgbench -n -M prepared -c "$BENCH_CLIENTS" -j "$J" -T "$BENCH_SECONDS" -D sub="$SUB" -D scale="$scale" \
            -f "$HERE/$op.sql" "$BENCH_DB" >"$OUT/${op}_$scale.txt" 2>&1 \
      || { cat "$OUT/${op}_$scale.txt" >&2; exit 1; }
    echo "    $scale rows, $op at $BENCH_CLIENTS clients: $(grep -E '^tps' "$OUT/${op}_$scale.txt")" >&2
  done
done
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
echo "seconds=$(( $(date +%s) - t_start ))" >>"$OUT/machine.txt"
python3 "$HERE/report.py"
dropdb --if-exists "$BENCH_DB"
