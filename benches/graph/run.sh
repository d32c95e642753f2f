#!/usr/bin/env bash
# Dependency-graph bench (issue 3, "Speed"; SPEC §2 and §5). Run by benches/run.sh (make bench).
#
# In a fresh database (dropped and re-created, CREATE EXTENSION idgraph) on the seeded generated graph
# of benches/graph/gen_graph.py (5,000 services, ~50,000 edges, seed 42):
#   1. ingest_graph of the whole document: first ingest on empty tables, re-ingest of the
#      same document, re-ingest with a later `timestamp` (median of BENCH_INGEST_RUNS
#      cycles; statement_timeout BENCH_INGEST_TIMEOUT; a timeout is reported, not waited out);
#   2. 3-hop downstream traversal from seeded random frontends: idgraph.dependencies against
#      FR-1's recursive CTE over the same tables, alternating per sample, p50/p95 and ratio;
#   3. composite_availability / impact_analysis on the largest downstream / upstream
#      closures, with the default p_detail 'summary' and with 'full': warm p50/p95, and
#      the first call (default detail) in a fresh session.
# Driver: benches/graph/bench.py (psycopg, in benches/.venv, created from PyPI when
# missing); report: benches/graph/report.py writes the graph-bench section of
# benches/README.md. Raw results: benches/out/graph/ (not committed).
#
# Settings (environment): BENCH_GRAPH_DB (default idgraph_bench_graph; dropped and
# re-created — its name must contain "bench"), BENCH_INGEST_RUNS (3), BENCH_INGEST_TIMEOUT
# (120 s), BENCH_INGEST_SLOW (20 s: a step slower than this is not repeated),
# BENCH_TRAVERSALS (500), BENCH_CLOSURE_CALLS (100), BENCH_COLD_SESSIONS (7), BENCH_SEED (7,
# the choice of frontends), BENCH_README (benches/README.md).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/scripts/env.sh"

BENCH_GRAPH_DB=${BENCH_GRAPH_DB:-idgraph_bench_graph}
BENCH_README=${BENCH_README:-$ROOT/benches/README.md}
OUT=$ROOT/benches/out/graph
VENV=$ROOT/benches/.venv
export BENCH_README

case "$BENCH_GRAPH_DB" in
  *bench*) ;;
  *) echo "BENCH_GRAPH_DB=$BENCH_GRAPH_DB: the bench drops and re-creates its database, so its name must contain 'bench'" >&2; exit 2 ;;
esac
for tool in psql createdb dropdb python3; do
  command -v "$tool" >/dev/null || { echo "graph bench: $tool not found (run make setup)" >&2; exit 2; }
done

if ! "$VENV/bin/python" -c 'import psycopg' 2>/dev/null; then
  log "graph bench: creating $VENV (psycopg from PyPI)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'psycopg[binary]'
fi

rm -rf "$OUT"
mkdir -p "$OUT"

log "graph bench: generating the document (5,000 services, ~50,000 edges, seed 42)"
python3 "$HERE/gen_graph.py" --services 5000 --edges 50000 --seed 42 >"$OUT/doc.json"

log "graph bench: fresh database $BENCH_GRAPH_DB"
dropdb --if-exists "$BENCH_GRAPH_DB"
createdb "$BENCH_GRAPH_DB"
# The extension alone (as superuser): the bench needs no roles or grants, and does not
# depend on sqitch changes whose SQL may not be installed yet.
psql -X -q -v ON_ERROR_STOP=1 -d "$BENCH_GRAPH_DB" -c 'CREATE EXTENSION idgraph CASCADE'

log "graph bench: running (ingest, traversal, composite/impact)"
rc=0
"$VENV/bin/python" "$HERE/bench.py" --db "$BENCH_GRAPH_DB" --doc "$OUT/doc.json" \
  --out "$OUT/results.json" --root "$ROOT" || rc=$?
[ -s "$OUT/results.json" ] || { echo "graph bench: no results" >&2; exit 1; }
python3 "$HERE/report.py" "$OUT/results.json" "$BENCH_README"
exit "$rc"
