#!/usr/bin/env bash
# Contract test: schemathesis (from PyPI, in facade/.venv) against /openapi.json of the
# live facade binary over HTTPS with a valid API key. Zero 5xx; every response's status,
# content type, headers and body match what the document says.
# Usage: facade/contract.sh DB   (DB deployed by sqitch; scripts/test.sh facade does it)
. "$(dirname "$0")/../scripts/env.sh"
cd "$(dirname "$0")/.."
DB=${1:-idgraph_t_facade}
EXAMPLES=${IDGRAPH_CONTRACT_EXAMPLES:-20}
VENV=facade/.venv
ST_VERSION=4.32.5
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$ST_VERSION"; then
  log "contract: installing schemathesis $ST_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$ST_VERSION"
fi
cargo build -q -p idgraph-facade
BIN=target/debug/idgraph-facade
work=$(mktemp -d)
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$work"; true; }
trap cleanup EXIT

# The facade's LOGIN role (an ordinary member of idgraph_facade), a target, a key.
PW=contract-only-$RANDOM$RANDOM
psql -qd "$DB" -v ON_ERROR_STOP=1 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'idgraph_facade_contract') THEN
    CREATE ROLE idgraph_facade_contract LOGIN;
  END IF;
END \$\$;
ALTER ROLE idgraph_facade_contract LOGIN NOSUPERUSER PASSWORD '$PW';
GRANT idgraph_facade TO idgraph_facade_contract;
CREATE SCHEMA IF NOT EXISTS contract;
CREATE TABLE IF NOT EXISTS contract.tbl_sites (site_id serial PRIMARY KEY);
GRANT USAGE ON SCHEMA contract TO idgraph_reader;
SELECT idgraph.register_target('contract.tbl_sites', 'site_id');
SQL
KEY=$(DATABASE_URL="host=$PGHOST port=${PGPORT:-5432} user=postgres dbname=$DB" \
      "$BIN" keys create --name contract --scopes identity:admin,graph:write,slo:write --team contract)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATABASE_URL="postgres://idgraph_facade_contract:$PW@127.0.0.1:${PGPORT:-5432}/$DB" \
IDGRAPH_LISTEN=127.0.0.1:$PORT IDGRAPH_TLS_CERT=$work/cert.pem IDGRAPH_TLS_KEY=$work/key.pem \
IDGRAPH_RATE_LIMIT_BURST=1000000 IDGRAPH_RATE_LIMIT_PER_SEC=1000000 IDGRAPH_LOG=warn \
  "$BIN" serve > "$work/facade.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf --cacert "$work/cert.pem" "https://localhost:$PORT/health/ready" >/dev/null && break
  sleep 0.2
done
log "contract: schemathesis, $EXAMPLES examples per operation, against https://localhost:$PORT"
set +e
# From the scratch directory: schemathesis keeps its example database in ./.schemathesis.
ST=$PWD/$VENV/bin/schemathesis
cd "$work"
"$ST" run "https://localhost:$PORT/openapi.json" \
  --tls-verify "$work/cert.pem" -H "X-API-Key: $KEY" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "$EXAMPLES" --seed 20261125 --request-timeout 30 --no-color \
  ${IDGRAPH_CONTRACT_ARGS:-}
rc=$?
if grep -q '"level":"ERROR"' "$work/facade.log"; then
  log "contract: the facade logged errors:"; grep '"level":"ERROR"' "$work/facade.log" | head -20
fi
kill -TERM "$pid"; wait "$pid"; exit_code=$?; pid=""
[ "$exit_code" -eq 0 ] || { log "contract: facade exited $exit_code after SIGTERM"; rc=1; }
exit $rc
