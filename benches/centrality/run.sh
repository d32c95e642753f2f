#!/usr/bin/env bash
# Centrality bench (issue 4, "Speed"), all side by side in one run, on the same graphs:
#   - ba10k-directed:  10,000-node Barabási–Albert graph, m = 5 (gen_ba.py, seed 1), edges
#                      reversed with p = 0.5 and reciprocated with p = 0.3, directed;
#   - deps5k-directed: the 5,000-service dependency graph of benches/graph/gen_graph.py
#                      (--services 5000 --seed 42), an FR-1 document;
#   - ba10k-undirected (only with BENCH_CENTRALITY_UNDIRECTED=1): the plain BA graph,
#                      undirected, algorithm level only (the database is directed).
# For each directed graph, in a fresh database (BENCH_CENTRALITY_DB, dropped and re-created
# with CREATE EXTENSION idgraph): load it through idgraph.ingest_graph, then alternate
# idgraph-core's pure function (core/examples/centrality_bench.rs, release) with
# SELECT idgraph.refresh_centrality('exact') (BENCH_REPS times each), then the peers
# python-igraph and networkit (peers.py) on the same CSV edge list. On the 10k graph also
# centrality_top('betweenness', 20) latency and the cost of one edge (INSERT/DELETE into
# idgraph.edges, ingest_graph with one edge, the trigger's work alone, the floor without
# the trigger) against the full refresh. Driver: indb.py (psycopg).
# Peers and psycopg come from PyPI into benches/.venv (created if absent; shared with other
# benches; only what is missing is installed). A peer that cannot be installed or
# imported is reported as skipped, with the reason.
# Writes the centrality section of benches/README.md (between its markers, report.py) and
# raw JSON lines to benches/out/centrality/.
# Env: BENCH_README (benches/README.md), BENCH_REPS (3), BENCH_TOP_CALLS (200),
#      BENCH_INCR_SAMPLES (20), BENCH_INCR_HUB (5), BENCH_CENTRALITY_UNDIRECTED (0),
#      BENCH_CENTRALITY_DB (idgraph_bench_centrality).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/scripts/env.sh"
OUT=$ROOT/benches/out/centrality
VENV=$ROOT/benches/.venv
export BENCH_README=${BENCH_README:-$ROOT/benches/README.md}
REPS=${BENCH_REPS:-3}
TOP_CALLS=${BENCH_TOP_CALLS:-200}
INCR=${BENCH_INCR_SAMPLES:-20}
HUB=${BENCH_INCR_HUB:-5}
DB=${BENCH_CENTRALITY_DB:-idgraph_bench_centrality}
case "$DB" in
  *bench*) ;;
  *) echo "BENCH_CENTRALITY_DB=$DB: the bench drops and re-creates its database, so its name must contain 'bench'" >&2; exit 2 ;;
esac
for tool in psql createdb dropdb python3 cargo; do
  command -v "$tool" >/dev/null || { echo "centrality bench: $tool not found (run make setup)" >&2; exit 2; }
done
mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl "$OUT"/*.json "$OUT"/install-*.txt
date +%s >"$OUT/t_start"

# Python packages from PyPI into the shared venv, only what is missing.
[ -x "$VENV/bin/python" ] || { log "centrality bench: creating $VENV"; python3 -m venv "$VENV"; }
PY=$VENV/bin/python
venv_need() { # module, pip requirement, report name
  "$PY" -c "import $1" 2>/dev/null && return 0
  log "centrality bench: pip install $2 into $VENV"
  if ! "$VENV/bin/pip" install -q "$2" >"$OUT/pip-$3.log" 2>&1; then
    echo "pip install $2 failed: $(grep -v '^\s*$' "$OUT/pip-$3.log" | tail -n 1)" >"$OUT/install-$3.txt"
    return 1
  fi
}
venv_need psycopg 'psycopg[binary]' psycopg || { cat "$OUT/pip-psycopg.log" >&2; exit 1; }
venv_need igraph igraph igraph || true
venv_need networkit networkit networkit || true

log "centrality bench: graphs"
python3 "$HERE/gen_ba.py" --nodes 10000 --m 5 --seed 1 --flip 0.5 --reciprocal 0.3 \
  --out "$OUT/ba10k_mixed.csv" 2>/dev/null
python3 "$ROOT/benches/graph/gen_graph.py" --services 5000 --seed 42 >"$OUT/deps5k.json"
python3 - "$OUT/deps5k.json" "$OUT/deps5k.csv" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
index = {n["service_id"]: i for i, n in enumerate(doc["nodes"])}
with open(sys.argv[2], "w") as f:
    f.write("src,dst\n")
    for e in doc["edges"]:
        f.write(f"{index[e['source']]},{index[e['target']]}\n")
PY
# Services without edges are in the document but not in the CSV: tell the peers.
DEPS_NODES=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["nodes"]))' "$OUT/deps5k.json")

log "centrality bench: building idgraph-core's example (release)"
(cd "$ROOT" && cargo build --release -q -p idgraph-core --example centrality_bench)
BIN=$ROOT/target/release/examples/centrality_bench

log "centrality bench: fresh database $DB"
dropdb --if-exists "$DB"
createdb "$DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c 'CREATE EXTENSION idgraph CASCADE'

{
  echo "db=$DB"
  echo "reps=$REPS"
  echo "cores=$(nproc)"
  echo "cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)"
  echo "mem=$(free -h 2>/dev/null | awk '/^Mem:/{print $2}')"
  echo "kernel=$(uname -r)"
  echo "pg=$(psql -XAt -d "$DB" -c 'SELECT version()' | sed 's/ on .*//')"
  echo "idgraph=$(psql -XAt -d "$DB" -c "SELECT extversion FROM pg_extension WHERE extname = 'idgraph'")"
  so=$("$PG_CONFIG" --pkglibdir)/idgraph.so
  [ -f "$so" ] && echo "so_built=$(date -u -r "$so" '+%Y-%m-%d %H:%M UTC')"
  echo "head=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "dirty=$(git -C "$ROOT" status --porcelain -- sql pg_ext core 2>/dev/null | wc -l)"
  echo "settings=$(psql -XAt -d "$DB" -c "SELECT string_agg(format('\`%s=%s\`', n, current_setting(n)), ', ' ORDER BY n)
      FROM unnest(ARRAY['shared_buffers', 'work_mem', 'jit', 'synchronous_commit', 'fsync', 'shared_preload_libraries']) n")"
} >"$OUT/machine.txt"

uptime >"$OUT/loadavg_start"
date +%s >"$OUT/t_measure"

log "centrality bench: ba10k-directed (database + idgraph-core, then peers)"
"$PY" "$HERE/indb.py" ba10k-directed --db "$DB" --csv "$OUT/ba10k_mixed.csv" \
  --values "$OUT/ba10k-directed.db_values.json" --reps "$REPS" --core-bin "$BIN" \
  --top-calls "$TOP_CALLS" --incremental "$INCR" --hub "$HUB" >>"$OUT/ba10k-directed.jsonl"
"$PY" "$HERE/peers.py" "$OUT/ba10k_mixed.csv" --nodes 10000 --dump "$OUT/ba10k-directed.peer_values.json" \
  >>"$OUT/ba10k-directed.jsonl"

log "centrality bench: deps5k-directed (database + idgraph-core, then peers)"
"$PY" "$HERE/indb.py" deps5k-directed --db "$DB" --csv "$OUT/deps5k.csv" --doc "$OUT/deps5k.json" \
  --values "$OUT/deps5k-directed.db_values.json" --reps "$REPS" --core-bin "$BIN" \
  --incremental 10 >>"$OUT/deps5k-directed.jsonl"
"$PY" "$HERE/peers.py" "$OUT/deps5k.csv" --nodes "$DEPS_NODES" --dump "$OUT/deps5k-directed.peer_values.json" \
  >>"$OUT/deps5k-directed.jsonl"

if [ "${BENCH_CENTRALITY_UNDIRECTED:-0}" = 1 ]; then
  log "centrality bench: ba10k-undirected (idgraph-core, peers)"
  python3 "$HERE/gen_ba.py" --nodes 10000 --m 5 --seed 1 --out "$OUT/ba10k.csv" 2>/dev/null
  "$BIN" "$OUT/ba10k.csv" --undirected --reps "$REPS" >>"$OUT/ba10k-undirected.jsonl"
  "$PY" "$HERE/peers.py" "$OUT/ba10k.csv" --undirected >>"$OUT/ba10k-undirected.jsonl"
fi

uptime >"$OUT/loadavg_end"
date +%s >"$OUT/t_end"
"$PY" "$HERE/report.py" "$OUT"
