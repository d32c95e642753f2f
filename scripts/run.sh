#!/usr/bin/env bash
# `make run`: deploy idgraph into database $1 with sqitch and load a small demo.
. "$(dirname "$0")/env.sh"
cd "$(dirname "$0")/.."
DB=${1:-idgraph}
createdb "$DB" 2>/dev/null || true
log "sqitch deploy --verify into $DB"
(cd sqitch && sqitch deploy --verify "db:pg://postgres@/$DB")
log "loading the demo"
psql -qd "$DB" -v ON_ERROR_STOP=1 -f scripts/demo.sql
log "loading the demo dependency graph (ops/demo/shop-graph.json: 17 services, an external payment API, a redundancy group, a cycle)"
scripts/demo-graph.sh "$DB"

# --- The HTTPS facade next to the database --------------------------------------------
# Self-signed certificate for localhost, an ordinary LOGIN role (member of idgraph_facade,
# never a superuser), a demo API key, the facade on https://127.0.0.1:8443 in the background.
RUN_DIR=target/facade-run
mkdir -p "$RUN_DIR"
FACADE_LISTEN=${IDGRAPH_LISTEN:-127.0.0.1:8443}
FACADE_PORT=${FACADE_LISTEN##*:}
log "building the facade (release)"
cargo build --release -q -p idgraph-facade
BIN=target/release/idgraph-facade
if [ -f "$RUN_DIR/facade.pid" ] && kill -0 "$(cat "$RUN_DIR/facade.pid")" 2>/dev/null; then
  log "stopping the facade started earlier (pid $(cat "$RUN_DIR/facade.pid"))"
  kill -TERM "$(cat "$RUN_DIR/facade.pid")"
  for _ in $(seq 50); do kill -0 "$(cat "$RUN_DIR/facade.pid")" 2>/dev/null || break; sleep 0.2; done
fi
if [ ! -s "$RUN_DIR/cert.pem" ]; then
  log "self-signed certificate for localhost"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
    -keyout "$RUN_DIR/key.pem" -out "$RUN_DIR/cert.pem" 2>/dev/null
  chmod 600 "$RUN_DIR/key.pem"
fi
[ -s "$RUN_DIR/db-password" ] || (umask 077; openssl rand -hex 24 > "$RUN_DIR/db-password")
FACADE_PW=$(cat "$RUN_DIR/db-password")
psql -qd "$DB" -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'idgraph_facade_login') THEN
    CREATE ROLE idgraph_facade_login LOGIN;
  END IF;
END \$\$;
ALTER ROLE idgraph_facade_login LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '$FACADE_PW';
GRANT idgraph_facade TO idgraph_facade_login;
GRANT USAGE ON SCHEMA demo TO idgraph_reader;
SQL
ADMIN_URL="host=$PGHOST user=postgres dbname=$DB"
if [ -s "$RUN_DIR/demo-key" ]; then
  old_id=$(cut -d_ -f3 "$RUN_DIR/demo-key")
  DATABASE_URL=$ADMIN_URL "$BIN" keys revoke "$old_id" 2>/dev/null || true
fi
(umask 077; DATABASE_URL=$ADMIN_URL "$BIN" keys create --name demo --team demo \
   --scopes identity:admin,graph:write,slo:write > "$RUN_DIR/demo-key")
KEY=$(cat "$RUN_DIR/demo-key")
log "starting the facade on https://$FACADE_LISTEN (log: $RUN_DIR/facade.log)"
DATABASE_URL="postgres://idgraph_facade_login:$FACADE_PW@127.0.0.1:$PGPORT/$DB" \
IDGRAPH_LISTEN=$FACADE_LISTEN IDGRAPH_TLS_CERT=$RUN_DIR/cert.pem IDGRAPH_TLS_KEY=$RUN_DIR/key.pem \
  nohup "$BIN" serve >> "$RUN_DIR/facade.log" 2>&1 &
echo $! > "$RUN_DIR/facade.pid"
for _ in $(seq 100); do
  curl -sf --cacert "$RUN_DIR/cert.pem" "https://localhost:$FACADE_PORT/health/ready" >/dev/null && break
  sleep 0.2
done
curl -sf --cacert "$RUN_DIR/cert.pem" "https://localhost:$FACADE_PORT/health/ready" >/dev/null \
  || { log "the facade did not become ready; see $RUN_DIR/facade.log"; exit 1; }

cat <<MSG

idgraph is running in database '$DB' (PostgreSQL $PGVER, socket $PGHOST).

Connect:    psql -h $PGHOST -U postgres -d $DB      (as root: the pg_ident map lets you in)
Try:
  SELECT * FROM idgraph.targets();
  SELECT * FROM idgraph.submission((SELECT submission_id FROM idgraph.submissions WHERE submission_name = 'demo-sites-1'));
  SELECT * FROM idgraph.allocate(idgraph.create_submission('my-run-' || now()::text, 'me', 'sites'),
                                 'demo.tbl_sites', 'site_id', gen_random_uuid()::text);
  SELECT * FROM idgraph.resolve('demo.tbl_sites', 'site_id', 'a3e4f567-e89b-12d3-a456-426614174001');
  SELECT idgraph.verify_audit();

The HTTPS facade is running on https://$FACADE_LISTEN (pid $(cat "$RUN_DIR/facade.pid"), log $RUN_DIR/facade.log).
The demo API key (shown once, kept in $RUN_DIR/demo-key):
  $KEY
Try:
  curl --cacert $RUN_DIR/cert.pem -H "X-API-Key: \$(cat $RUN_DIR/demo-key)" https://localhost:$FACADE_PORT/api/v1/identity/resolve?table_name=demo.tbl_sites\&column_name=site_id\&external_id=a3e4f567-e89b-12d3-a456-426614174001
  curl --cacert $RUN_DIR/cert.pem -H "X-API-Key: \$(cat $RUN_DIR/demo-key)" https://localhost:$FACADE_PORT/api/v1/identity/targets
  curl --cacert $RUN_DIR/cert.pem https://localhost:$FACADE_PORT/openapi.json

The demo dependency graph (ops/demo/shop-graph.json, SLOs in ops/demo/shop-slos.json):
  SELECT * FROM idgraph.dependencies('checkout', 'downstream', 3);      -- traversal (downstream | upstream | both)
  SELECT * FROM idgraph.cycles();                                        -- cart <-> pricing
  SELECT idgraph.composite_availability('checkout', 0.999);              -- bound, bottleneck, redundancy group
  SELECT idgraph.check_slo('checkout', 0.9999);                          -- achievable? what each dependency needs
  SELECT idgraph.impact_analysis('payment-provider', 0.995);             -- who upstream is at risk
  SELECT * FROM idgraph.centrality_top('betweenness', 5);
  H="X-API-Key: \$(cat $RUN_DIR/demo-key)"; U=https://localhost:$FACADE_PORT/api/v1
  curl --cacert $RUN_DIR/cert.pem -H "\$H" "\$U/services/checkout/dependencies?direction=downstream&max_depth=3"
  curl --cacert $RUN_DIR/cert.pem -H "\$H" "\$U/services/checkout/availability?target=0.999"
  curl --cacert $RUN_DIR/cert.pem -H "\$H" -H 'Content-Type: application/json' \$U/slos/impact-analysis -d '{"service_id": "payment-provider", "proposed_availability": 0.995}'
  curl --cacert $RUN_DIR/cert.pem -H "\$H" "\$U/centrality/top?metric=betweenness&k=5"
  curl --cacert $RUN_DIR/cert.pem -H "\$H" \$U/cycles
MSG
if [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$RUN_DIR/cert.pem" -H "X-API-Key: $KEY" \
        "https://localhost:$FACADE_PORT/api/v1/services/checkout/slo-recommendations")" = 200 ]; then
  cat <<MSG
  curl --cacert $RUN_DIR/cert.pem -H "\$H" \$U/services/checkout/slo-recommendations
MSG
fi
cat <<MSG

In a browser (accept the self-signed certificate, or trust $RUN_DIR/cert.pem):
  https://localhost:$FACADE_PORT/explorer   the graph explorer: paste the demo key, pick a service (try checkout)
  https://localhost:$FACADE_PORT/docs       the API docs over /openapi.json
Stop it:  make facade-stop

On three nodes instead: make ha-up — Patroni-managed primary and two replicas, each in a
network namespace of its own, with this demo loaded; it prints how to reach them (the SQL
lines above work there as they are), make ha-down removes it.
MSG
log "checking the printed curl line"
curl -sf --cacert "$RUN_DIR/cert.pem" -H "X-API-Key: $KEY" \
  "https://localhost:$FACADE_PORT/api/v1/identity/resolve?table_name=demo.tbl_sites&column_name=site_id&external_id=a3e4f567-e89b-12d3-a456-426614174001"
echo
