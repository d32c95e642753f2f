#!/usr/bin/env bash
# Centrality bench, algorithm level: exact betweenness of idgraph-core's pure function
# (core/examples/centrality_bench.rs, release build, all cores) against python-igraph and
# networkit (benches/centrality/peers.py) on the same CSV edge lists, one after another in
# one run:
#   - ba10k-directed:   10,000-node Barabási–Albert graph, m = 5 (gen_ba.py, seed 1), edges
#                       reversed with p = 0.5 and reciprocated with p = 0.3, directed;
#   - ba10k-undirected: the plain BA graph (seed 1), undirected;
#   - deps5k-directed:  the 5,000-service dependency graph of benches/graph/gen_graph.py.
# Writes the centrality section of benches/README.md (between its markers) and raw JSON
# lines to benches/out/centrality/. Peers that do not import are reported as skipped.
# Env: BENCH_README (benches/README.md), BENCH_REPS (idgraph-core repetitions, 3).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$ROOT/benches/out/centrality
export BENCH_README=${BENCH_README:-$ROOT/benches/README.md}
REPS=${BENCH_REPS:-3}
mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl

python3 "$HERE/gen_ba.py" --nodes 10000 --m 5 --seed 1 --flip 0.5 --reciprocal 0.3 \
  --out "$OUT/ba10k_mixed.csv"
python3 "$HERE/gen_ba.py" --nodes 10000 --m 5 --seed 1 --out "$OUT/ba10k.csv"
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

(cd "$ROOT" && cargo build --release -q -p idgraph-core --example centrality_bench)
BIN=$ROOT/target/release/examples/centrality_bench

run_case() {
  local name=$1 csv=$2 flag=${3:-}
  echo "-- $name" >&2
  # shellcheck disable=SC2086
  "$BIN" "$csv" $flag --reps "$REPS" >>"$OUT/$name.jsonl"
  # shellcheck disable=SC2086
  python3 "$HERE/peers.py" "$csv" $flag >>"$OUT/$name.jsonl"
}
uptime >"$OUT/loadavg_start"
run_case ba10k-directed "$OUT/ba10k_mixed.csv"
run_case ba10k-undirected "$OUT/ba10k.csv" --undirected
run_case deps5k-directed "$OUT/deps5k.csv"
uptime >"$OUT/loadavg_end"
python3 "$HERE/report.py" "$OUT"
