#!/usr/bin/env bash
# Graph cache upkeep bench (issue 10): on the 10,000-service / ~65,000-edge generated graph
# (benches/graph/gen_graph.py --services 10000 --edges 65000 --seed 1), in a fresh database:
#   1. a one-edge ingest document (a new pair of existing services) and a one-node document
#      (an existing service's availability), each its own transaction: p50/p95 client time;
#      the backend's cache catches up from idgraph.graph_changes and upkeeps the cycles;
#   2. the first graph call in a warm session right after another session's one-edge
#      ingest (catch-up), beside the same call with no change in between;
#   3. the first graph call in a fresh backend (from the cache file pg_idgraph/, caught up
#      from the change log), beside 2;
#   4. re-ingest of the whole document, same session.
# Driver and report: benches/graph_delta/bench.py (psycopg from benches/.venv); it writes
# the graph-delta-bench section of benches/README.md.
# Settings (environment): BENCH_DELTA_DB (idgraph_bench_delta; dropped and re-created),
# BENCH_DELTA_SAMPLES (200), BENCH_README (benches/README.md).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/scripts/env.sh"
DB=${BENCH_DELTA_DB:-idgraph_bench_delta}
case "$DB" in *bench*) ;; *) echo "BENCH_DELTA_DB must contain 'bench'" >&2; exit 2 ;; esac
VENV=$ROOT/benches/.venv
OUT=$ROOT/benches/out/graph_delta
if ! "$VENV/bin/python" -c 'import psycopg' 2>/dev/null; then
  log "graph delta bench: creating $VENV (psycopg from PyPI)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'psycopg[binary]'
fi
rm -rf "$OUT"; mkdir -p "$OUT"
python3 "$ROOT/benches/graph/gen_graph.py" --services 10000 --edges 65000 --seed 1 >"$OUT/doc.json"
dropdb --if-exists "$DB"
createdb "$DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c 'CREATE EXTENSION idgraph CASCADE'
log "graph delta bench: running"
"$VENV/bin/python" "$HERE/bench.py" --db "$DB" --doc "$OUT/doc.json" \
  --samples "${BENCH_DELTA_SAMPLES:-200}" --readme "${BENCH_README:-$ROOT/benches/README.md}" --root "$ROOT"
