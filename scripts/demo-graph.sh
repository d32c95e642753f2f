#!/usr/bin/env bash
# Loads the demo dependency graph (ops/demo/shop-graph.json, an FR-1 document: a small
# shop of 17 services with an external payment API, a redundancy group and a cycle) and
# its SLOs (ops/demo/shop-slos.json) into database $1 through idgraph.ingest_graph and
# idgraph.set_slo, then refreshes centrality. Idempotent: a re-run changes nothing but
# observation times (an SLO is set only when it differs). Used by `make run` and by the
# browser test. Usage: scripts/demo-graph.sh DB
. "$(dirname "$0")/env.sh"
cd "$(dirname "$0")/.."
DB=${1:?usage: scripts/demo-graph.sh DB}
psql -qAtd "$DB" -v ON_ERROR_STOP=1 \
  -v graph="$(cat ops/demo/shop-graph.json)" -v slos="$(cat ops/demo/shop-slos.json)" <<'SQL' >/dev/null
SELECT idgraph.ingest_graph(:'graph'::jsonb);
SELECT idgraph.set_slo(s->>'service_id', (s->>'availability_target')::float8,
                       (s->>'latency_p95_ms')::float8, (s->>'latency_p99_ms')::float8,
                       s->>'rationale', 'demo')
  FROM jsonb_array_elements(:'slos'::jsonb) s
 WHERE (idgraph.slo(s->>'service_id')->'active') IS NULL
    OR (idgraph.slo(s->>'service_id')->'active'->>'availability_target')::float8
       IS DISTINCT FROM (s->>'availability_target')::float8;
SELECT idgraph.refresh_centrality();
SQL
