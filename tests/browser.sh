#!/usr/bin/env bash
# Stage `browser`: the explorer (/explorer) and the API docs (/docs) in headless Chromium.
# Starts the facade binary over HTTPS the way facade/contract.sh does (database deployed
# by sqitch, an ordinary LOGIN role, a self-signed certificate, an API key), loads the
# demo graph (scripts/demo-graph.sh), and runs facade/ui/tests/browser.test.mjs with
# node's test runner (playwright-core driving Debian's /usr/bin/chromium).
# Screenshots: target/artefacts/explorer.png, target/artefacts/docs.png.
# Usage: tests/browser.sh DB   (a database of its own; it is recreated)
. "$(dirname "$0")/../scripts/env.sh"
cd "$(dirname "$0")/.."
DB=${1:-idgraph_test_browser}
[ -x /usr/bin/chromium ] || { log "browser: /usr/bin/chromium is missing; scripts/setup.sh installs it"; exit 1; }
# facade/build.rs installs the npm packages (playwright-core too) when they are missing.
cargo build -q -p idgraph-facade
BIN=target/debug/idgraph-facade
work=$(mktemp -d)
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$work"; true; }
trap cleanup EXIT

dropdb --if-exists --force "$DB"
createdb "$DB"
(cd sqitch && sqitch deploy --verify "db:pg://postgres@/$DB" >/dev/null)
scripts/demo-graph.sh "$DB"
PW=browser-only-$RANDOM$RANDOM
psql -qd "$DB" -v ON_ERROR_STOP=1 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'idgraph_facade_browser') THEN
    CREATE ROLE idgraph_facade_browser LOGIN;
  END IF;
END \$\$;
ALTER ROLE idgraph_facade_browser LOGIN NOSUPERUSER PASSWORD '$PW';
GRANT idgraph_facade TO idgraph_facade_browser;
SQL
# The explorer only reads: a key with graph:read and nothing else.
KEY=$(DATABASE_URL="host=$PGHOST port=${PGPORT:-5432} user=postgres dbname=$DB" \
      "$BIN" keys create --name browser --scopes graph:read --team browser)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
SPKI=$(openssl x509 -in "$work/cert.pem" -noout -pubkey | openssl pkey -pubin -outform der \
       | openssl dgst -sha256 -binary | base64)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATABASE_URL="postgres://idgraph_facade_browser:$PW@127.0.0.1:$PGPORT/$DB" \
IDGRAPH_LISTEN=127.0.0.1:$PORT IDGRAPH_TLS_CERT=$work/cert.pem IDGRAPH_TLS_KEY=$work/key.pem \
IDGRAPH_LOG=warn "$BIN" serve > "$work/facade.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf --cacert "$work/cert.pem" "https://localhost:$PORT/health/ready" >/dev/null && break
  sleep 0.2
done
mkdir -p target/artefacts
log "browser: chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}') against https://localhost:$PORT"
set +e
IDGRAPH_BROWSER_BASE="https://localhost:$PORT" IDGRAPH_BROWSER_KEY=$KEY IDGRAPH_BROWSER_SPKI=$SPKI \
IDGRAPH_DEMO_GRAPH=$PWD/ops/demo/shop-graph.json IDGRAPH_ARTEFACTS=$PWD/target/artefacts \
  timeout 300 node --test --test-reporter=spec facade/ui/tests/browser.test.mjs
rc=$?
set -e
if grep -q '"level":"ERROR"' "$work/facade.log"; then
  log "browser: the facade logged errors:"; grep '"level":"ERROR"' "$work/facade.log" | head -20; rc=1
fi
exit $rc
