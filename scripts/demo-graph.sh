#!/usr/bin/env bash
# Loads the demo dependency graph (ops/demo/shop-graph.json, an FR-1 document: a small
# shop of 17 services with an external payment API, a redundancy group and a cycle) and
# its SLOs (ops/demo/shop-slos.json) into database $1 through idgraph.ingest_graph and
# idgraph.set_slo, refreshes centrality and records 30 days of hourly SLI history
# (idgraph.record_sli) for the recommendations. Idempotent: a re-run changes nothing but
# observation times and the newest hour (an SLO is set only when it differs). Used by
# `make run` and by the browser test. Usage: scripts/demo-graph.sh DB
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
-- 30 days of hourly SLI history for every internal service (deterministic per window, so
-- a re-run rewrites nothing), so that idgraph.slo_recommendations has history to use.
SELECT idgraph.record_sli(jsonb_build_object('source', 'demo', 'windows', jsonb_agg(jsonb_build_object(
         'service_id', s.service_id, 'window', '1h',
         'start', to_char(w.start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
         'good_events', 10000 - abs(hashtext(s.service_id || w.start::text)) % 8, 'total_events', 10000,
         'latency_p99_ms', 80 + abs(hashtext(w.start::text || s.service_id)) % 60))))
  FROM idgraph.services s,
       LATERAL (SELECT to_timestamp(floor(extract(epoch FROM now()) / 3600) * 3600) - i * interval '1 hour' AS start
                  FROM generate_series(1, 720) i) w
 WHERE s.kind = 'internal' AND NOT s.discovered;
SQL
