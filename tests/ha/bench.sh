#!/usr/bin/env bash
# `make bench-ha`: figures for docs/SCALING.md on the HA cluster (tests/ha/up.sh; brought
# up and removed here when not already up). pgbench in the hub namespace, every run bounded:
#   - single allocations on the primary with synchronous_mode (commit waits for the sync
#     standby), then with synchronous_commit = local for the price of the wait;
#   - resolutions on one replica, then on two replicas at once.
# Prints `bench: ...` lines. Seconds per run: HA_BENCH_SECS (default 15).
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then exec sudo -E "$0" "$@"; fi
SECS=${HA_BENCH_SECS:-15}
C=${HA_BENCH_CLIENTS:-8}
ha_use_cluster "$0" "$@"
started=${HA_STARTED:-}
cleanup() { [ -n "$started" ] && tests/ha/down.sh >/dev/null 2>&1; return 0; }
trap cleanup EXIT
tests/ha/faults.sh --setup-only >/dev/null
L=$(ha_leader)
R=(); for i in 0 1 2; do [ "$i" = "$L" ] || R+=("$i"); done
WPW=$(grep '^\*:\*:\*:ha_writer:' "$PGPASSFILE" | cut -d: -f5)
W=$(mktemp -d); trap 'rm -rf "$W"; cleanup' EXIT
SUB=$(ha_psql "$L" -d "$HA_DB" -c "SELECT idgraph.create_submission('bench-$(date +%s%N)', 'ha-bench', 'items')")
cat > "$W/alloc.sql" <<'SQL'
SELECT alloc_integer_id FROM idgraph.allocate(:sub, 'ha.tbl_items', 'item_id', gen_random_uuid()::text);
SQL
# Ids to resolve: the ones just allocated, known to every replica.
cat > "$W/resolve.sql" <<'SQL'
\set k random(1, 20000)
SELECT alloc_integer_id FROM idgraph.resolve('ha.tbl_items', 'item_id', 'bench-' || :k, 'natural_key');
SQL
ha_psql "$L" -d "$HA_DB" -c "SELECT count(*) FROM idgraph.allocate_batch('$SUB', 'ha.tbl_items', 'item_id',
  ARRAY(SELECT 'bench-' || g FROM generate_series(1, 10000) g), 'natural_key')" >/dev/null
ha_psql "$L" -d "$HA_DB" -c "SELECT count(*) FROM idgraph.allocate_batch('$SUB', 'ha.tbl_items', 'item_id',
  ARRAY(SELECT 'bench-' || g FROM generate_series(10001, 20000) g), 'natural_key')" >/dev/null
ha_psql "$L" -d "$HA_DB" -c "ANALYZE idgraph.allocation_rows" >/dev/null
sleep 1
pgb() { # node index, script, clients
  PGPASSWORD=$WPW "$PGBIN/pgbench" -n -M prepared -c "$3" -j 2 -T "$SECS" -D sub="$SUB" -f "$2" \
    -h "${HA_ADDRS[$1]}" -p "${HA_PG_PORTS[$1]}" -U ha_writer "$HA_DB" 2>&1 | grep -oE 'tps = [0-9.]+' | head -1 | grep -oE '[0-9.]+'
}
echo "bench: load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for c in 1 "$C"; do
  a=$(pgb "$L" "$W/alloc.sql" "$c")
  echo "bench: single allocations on the primary, synchronous commit to one standby, $c clients: $a/s"
  a2=$(PGOPTIONS="-c synchronous_commit=local" pgb "$L" "$W/alloc.sql" "$c")
  echo "bench: single allocations on the primary, synchronous_commit=local (no standby wait), $c clients: $a2/s"
done
r1=$(pgb "${R[0]}" "$W/resolve.sql" "$C")
echo "bench: resolutions on one replica, $C clients: $r1/s"
pgb "${R[0]}" "$W/resolve.sql" $((C / 2)) > "$W/r1" &
pgb "${R[1]}" "$W/resolve.sql" $((C / 2)) > "$W/r2"
wait
echo "bench: resolutions on two replicas at once, $((C / 2)) clients each: $(cat "$W/r1")/s + $(cat "$W/r2")/s = $(awk -v a="$(cat "$W/r1")" -v b="$(cat "$W/r2")" 'BEGIN { printf "%.1f", a + b }')/s"
pr=$(pgb "$L" "$W/resolve.sql" "$C")
echo "bench: resolutions on the primary alone, $C clients: $pr/s"
echo "bench: load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
