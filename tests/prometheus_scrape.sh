#!/usr/bin/env bash
# A real Prometheus (Debian's) scrapes the running facade (HTTPS) and Debian's PostgreSQL
# exporter (job "postgresql", for seed 000's DatabaseDown) while a bounded load runs, with
# ops/prometheus's rule files loaded. Then:
#  - every rule's expression answers with data: each alert is queried with its threshold
#    comparisons (and `offset`) stripped, part by part around and/or/unless — an alert
#    expression itself is rightly empty while all is well (`rate(...) > 0.01`);
#  - every rule is loaded and healthy, and none is firing;
#  - the numbers are the load's: allocations, pending submissions, open cycles, no errors;
#  - the Grafana dashboard names only metrics the facade exports, and each of its
#    queries answers with data in this Prometheus (ops/grafana/check_dashboard.py).
# Usage: tests/prometheus_scrape.sh DB   (a database of its own: it is recreated)
. "$(dirname "$0")/../scripts/env.sh"
cd "$(dirname "$0")/.."
DB=${1:-idgraph_test_ops}
ROOT=$PWD
for t in prometheus prometheus-postgres-exporter; do
  command -v "$t" >/dev/null || { echo "$t missing: scripts/setup.sh installs it" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { log "prometheus: FAIL $*"; for f in facade prometheus exporter; do echo "--- $f.log (tail)"; tail -n 20 "$work/$f.log" 2>/dev/null; done; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

log "prometheus: database $DB (sqitch deploy)"
dropdb --if-exists --force "$DB"
createdb "$DB"
(cd sqitch && sqitch deploy --verify "db:pg://postgres@/$DB" >/dev/null)

cargo build -q -p idgraph-facade
BIN=target/debug/idgraph-facade
PW=scrape-only-$RANDOM$RANDOM
psql -qd "$DB" -v ON_ERROR_STOP=1 <<SQL >/dev/null
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'idgraph_facade_scrape') THEN
    CREATE ROLE idgraph_facade_scrape LOGIN;
  END IF;
END \$\$;
ALTER ROLE idgraph_facade_scrape LOGIN NOSUPERUSER PASSWORD '$PW';
GRANT idgraph_facade TO idgraph_facade_scrape;
CREATE SCHEMA ops_t;
CREATE TABLE ops_t.tbl_sites (site_id serial PRIMARY KEY);
GRANT USAGE ON SCHEMA ops_t TO idgraph_reader;
SELECT idgraph.register_target('ops_t.tbl_sites', 'site_id');
-- Until the SLO engine's table is installed: a stand-in with the columns the facade reads
-- (idgraph_slo_recommendations_pending is exported only while such a table is readable).
DO \$\$ BEGIN
  IF to_regclass('idgraph.slo_recommendations') IS NULL THEN
    CREATE TABLE idgraph.slo_recommendations (status text, decision text, expires_at timestamptz);
    GRANT SELECT ON idgraph.slo_recommendations TO idgraph_reader;
    INSERT INTO idgraph.slo_recommendations VALUES
      ('active', NULL, now() + interval '1 day'), ('active', NULL, now() + interval '1 day'),
      ('active', 'accepted', now() + interval '1 day'), ('active', NULL, now() - interval '1 hour'),
      ('superseded', NULL, now() + interval '1 day');
  END IF;
END \$\$;
SQL
SLO_PENDING=$(psql -Atd "$DB" -c "SELECT count(*) FROM idgraph.slo_recommendations
  WHERE status = 'active' AND decision IS NULL AND expires_at > now()")
KEY=$(DATABASE_URL="host=$PGHOST user=postgres dbname=$DB" \
      "$BIN" keys create --name scrape --scopes identity:write,graph:write --team ops)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

FPORT=$(free_port)
DATABASE_URL="postgres://idgraph_facade_scrape:$PW@127.0.0.1:$PGPORT/$DB" \
IDGRAPH_LISTEN=127.0.0.1:$FPORT IDGRAPH_TLS_CERT=$work/cert.pem IDGRAPH_TLS_KEY=$work/key.pem \
IDGRAPH_RATE_LIMIT_BURST=1000000 IDGRAPH_RATE_LIMIT_PER_SEC=1000000 IDGRAPH_LOG=warn \
  "$BIN" serve > "$work/facade.log" 2>&1 &
pids+=($!)
F="https://localhost:$FPORT"
api() { # method path [json body] -> body on stdout, fails on an unexpected status
  local m=$1 p=$2 body=${3:-}
  curl -sS --fail-with-body --cacert "$work/cert.pem" -X "$m" -H "X-API-Key: $KEY" \
    ${body:+-H 'Content-Type: application/json' --data "$body"} "$F$p"
}
for _ in $(seq 100); do
  curl -sf --cacert "$work/cert.pem" "$F/health/ready" >/dev/null && break
  sleep 0.2
done
curl -sf --cacert "$work/cert.pem" "$F/health/ready" >/dev/null || fail "the facade did not become ready"

EPORT=$(free_port)
DATA_SOURCE_NAME="host=$PGHOST port=$PGPORT user=postgres dbname=$DB sslmode=disable" \
  prometheus-postgres-exporter --web.listen-address=127.0.0.1:$EPORT > "$work/exporter.log" 2>&1 &
pids+=($!)

PPORT=$(free_port)
cat > "$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $ROOT/ops/prometheus/seed_000_alerts.yml
  - $ROOT/ops/prometheus/idgraph_alerts.yml
scrape_configs:
  - job_name: idgraph_facade
    scheme: https
    tls_config:
      ca_file: $work/cert.pem
      server_name: localhost
    static_configs:
      - targets: ['127.0.0.1:$FPORT']
  - job_name: postgresql
    static_configs:
      - targets: ['127.0.0.1:$EPORT']
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address=127.0.0.1:$PPORT > "$work/prometheus.log" 2>&1 &
pids+=($!)
P="http://127.0.0.1:$PPORT"
# promql EXPR -> the result vector (JSON) on stdout
promql() { curl -sS --fail -G "$P/api/v1/query" --data-urlencode "query=$1" | jq -c '.data.result'; }
scalar() { promql "$1" | jq -r '.[0].value[1] // "none"'; }
up=""
for _ in $(seq 60); do
  up=$(promql 'sum(up)' 2>/dev/null | jq -r '.[0].value[1] // empty' 2>/dev/null || true)
  [ "$up" = 2 ] && break
  sleep 0.5
done
[ "$up" = 2 ] || fail "Prometheus does not see both targets up (sum(up)=$up)"

# --- A bounded load: 3 submissions, 120 single allocations, 5 batches of 100 (20 of
# them repeats), resolves, one commit, a graph with a cycle, a few client errors.
log "prometheus: load on $F while Prometheus ($P) scrapes every second"
subs=()
for i in 1 2 3; do
  subs+=("$(api POST /api/v1/identity/submissions \
    "{\"submission_name\": \"scrape-$i-$RANDOM$RANDOM\", \"source_system\": \"ops\", \"data_type\": \"sites\"}" \
    | jq -r .submission_uuid)")
done
for i in $(seq 120); do
  api POST "/api/v1/identity/submissions/${subs[$((i % 2))]}/allocations" \
    "{\"table_name\": \"ops_t.tbl_sites\", \"column_name\": \"site_id\", \"external_id\": \"$(cat /proc/sys/kernel/random/uuid)\"}" >/dev/null
done
repeat=$(for _ in $(seq 20); do cat /proc/sys/kernel/random/uuid; done)
for b in 1 2 3 4 5; do
  ids=$( (echo "$repeat"; for _ in $(seq 80); do cat /proc/sys/kernel/random/uuid; done) | jq -R . | jq -sc 'map({external_id: .})')
  api POST "/api/v1/identity/submissions/${subs[2]}/allocations/batch" \
    "{\"table_name\": \"ops_t.tbl_sites\", \"column_name\": \"site_id\", \"allocations\": $ids}" >/dev/null
done
api POST "/api/v1/identity/submissions/${subs[2]}/commit" '{}' >/dev/null
for i in $(seq 30); do
  api GET "/api/v1/identity/resolve?table_name=ops_t.tbl_sites&column_name=site_id&external_id=$(echo "$repeat" | head -1)" >/dev/null
done
api POST /api/v1/services/dependencies '{"source": "manual", "nodes": [{"service_id": "checkout"}, {"service_id": "payments"}],
  "edges": [{"source": "checkout", "target": "payments"}, {"source": "payments", "target": "checkout"}]}' >/dev/null
for _ in 1 2 3; do
  curl -s -o /dev/null --cacert "$work/cert.pem" -H "X-API-Key: $KEY" "$F/api/v1/nope"
  curl -s -o /dev/null --cacert "$work/cert.pem" -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
    --data '{"submission_name": ""}' "$F/api/v1/identity/submissions"
done
# The load's numbers, once Prometheus has scraped them (the facade reads the database's
# state at most every 5 s).
want_alloc=$((120 + 5 * 100))
checks=(
  "sum(identity_allocations_total)=$want_alloc"
  'sum(identity_allocations_total{is_new="false"})=80'
  'identity_allocation_duration_seconds_count=125'
  'count(identity_active_submissions)=2'
  'idgraph_identity_submissions{status="pending"}=2'
  'idgraph_identity_submissions{status="committed"}=1'
  'idgraph_graph_cycles{status="open"}=1'
  'idgraph_centrality_stale_services=2'
  'idgraph_database_up=1'
  'idgraph_audit_rows_inserted_total > bool 0=1'
  'idgraph_database_replica_lag_seconds{pool="primary"}=0'
  'sum(http_request_errors_total)=0'
  'sum(http_requests_total{status=~"4.."}) >= bool 6=1'
  'process_resident_memory_bytes > bool 1e6=1'
  'sum(idgraph_facade_graph_ingests_total{source="manual"})=1'
  "idgraph_slo_recommendations_pending=$SLO_PENDING"
)
for _ in $(seq 40); do
  wrong=()
  for c in "${checks[@]}"; do
    got=$(scalar "${c%=*}")
    [ "$got" = "${c##*=}" ] || wrong+=("${c%=*} is $got, want ${c##*=}")
  done
  [ ${#wrong[@]} = 0 ] && break
  sleep 0.5
done
[ ${#wrong[@]} = 0 ] || fail "$(printf '%s; ' "${wrong[@]}")"
log "prometheus: the load's numbers are in Prometheus (${#checks[@]} checks)"
sleep 3   # a few more scrapes, so rates over the load have several samples

# --- Every rule: loaded, healthy, and its expression answers with data.
curl -sS --fail "$P/api/v1/rules" > "$work/rules.json"
python3 - "$work/rules.json" "$P" <<'PY' || fail "rule expressions"
import json, re, sys, time, urllib.parse, urllib.request
rules_doc, prom = sys.argv[1], sys.argv[2]
def query(expr):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)["data"]["result"]
def top_level_parts(expr):
    """Splits at and/or/unless outside parentheses and brackets."""
    parts, depth, last = [], 0, 0
    for m in re.finditer(r"[()\[\]{}]|\s(and|or|unless)\s", expr):
        t = m.group(0)
        if t in "([{": depth += 1
        elif t in ")]}": depth -= 1
        elif depth == 0:
            parts.append(expr[last:m.start()]); last = m.end()
    parts.append(expr[last:])
    return [p.strip() for p in parts]
CMP = re.compile(r"\s*(==|!=|>=|<=|>|<)\s*(bool\s+)?[-+]?[0-9.eE+]+\s*$")
OFFSET = re.compile(r"\s+offset\s+\d+[smhdwy]+\s*$")
groups = json.load(open(rules_doc))["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
names = sorted(r["name"] for r in rules)
print(f"  {len(rules)} rules loaded: {' '.join(names)}")
bad = 0
if len(rules) != 12:
    print(f"FAIL: expected 12 rules (5 seed + 7 idgraph), got {len(rules)}"); bad += 1
for r in rules:
    if r.get("health") not in ("ok", "unknown") or r.get("lastError"):
        print(f"FAIL {r['name']}: health {r.get('health')} {r.get('lastError')}"); bad += 1
    if r.get("state") == "firing":
        print(f"FAIL {r['name']} is firing"); bad += 1
    for part in top_level_parts(r["query"]):
        probe = OFFSET.sub("", CMP.sub("", part))
        res = query(probe)
        status = f"{len(res)} series" if res else "NO DATA"
        print(f"  {r['name']}: {probe}  ->  {status}")
        if not res:
            bad += 1
sys.exit(1 if bad else 0)
PY

# --- The dashboard against what the facade exports, and against this Prometheus.
curl -sS --fail --cacert "$work/cert.pem" "$F/metrics" > "$work/metrics.txt"
python3 ops/grafana/check_dashboard.py ops/grafana/idgraph-overview.json "$work/metrics.txt" "$P" \
  || fail "dashboard"
log "prometheus: ok"
