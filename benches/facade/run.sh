#!/usr/bin/env bash
# HTTPS single allocation through the facade (oha, from crates.io) next to the same
# allocation through SQL (pgbench, the statement the route runs, as the same role), at a
# few concurrency levels, in one run. Writes the section between the facade-bench markers
# in benches/README.md; raw output to benches/out/facade.
# Settings: BENCH_SECONDS (10), BENCH_FACADE_CONCURRENCY ("1 8 32 64"), BENCH_DB
# (idgraph_bench_facade), BENCH_POOL (16), BENCH_README (benches/README.md).
. "$(dirname "$0")/../../scripts/env.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BENCH_DB=${BENCH_DB:-idgraph_bench_facade}
BENCH_SECONDS=${BENCH_SECONDS:-10}
CONC=${BENCH_FACADE_CONCURRENCY:-"1 8 32 64"}
POOL=${BENCH_POOL:-16}
README=${BENCH_README:-$ROOT/benches/README.md}
OUT=$ROOT/benches/out/facade
mkdir -p "$OUT"
rm -f "$OUT"/*

OHA=$ROOT/target/tools/bin/oha
if [ ! -x "$OHA" ]; then
  log "bench facade: installing oha from crates.io into target/tools"
  cargo install oha --locked --root "$ROOT/target/tools"
fi
log "bench facade: building the facade (release)"
cargo build --release -q -p idgraph-facade
BIN=$ROOT/target/release/idgraph-facade

log "bench facade: fresh database $BENCH_DB"
dropdb --if-exists --force "$BENCH_DB"
createdb "$BENCH_DB"
(cd sqitch && sqitch deploy --verify "db:pg://postgres@/$BENCH_DB" >/dev/null)
PW=bench-$RANDOM$RANDOM
psql -qd "$BENCH_DB" -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'idgraph_facade_bench') THEN
    CREATE ROLE idgraph_facade_bench LOGIN;
  END IF;
END \$\$;
ALTER ROLE idgraph_facade_bench LOGIN NOSUPERUSER PASSWORD '$PW';
GRANT idgraph_facade TO idgraph_facade_bench;
CREATE SCHEMA bench_facade;
CREATE TABLE bench_facade.t (id bigserial PRIMARY KEY);
GRANT USAGE ON SCHEMA bench_facade TO idgraph_reader;
SELECT idgraph.register_target('bench_facade.t', 'id');
SQL
# A target that already holds ids, with statistics: on empty, never-analyzed tables the
# first sessions would cache plans for empty tables (both paths would be measured on
# whatever autovacuum had analyzed by then).
psql -qd "$BENCH_DB" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT count(*) FROM (SELECT idgraph.create_submission('bench-seed', 'bench', 'ids') AS s) x,
       generate_series(1, 5) g,
       LATERAL idgraph.allocate_batch(x.s, 'bench_facade.t', 'id',
                 ARRAY(SELECT gen_random_uuid()::text FROM generate_series(1, 10000)), 'uuid') b;
ANALYZE;
SQL
SUB=$(psql -Atqd "$BENCH_DB" -c "SELECT idgraph.create_submission('bench-facade', 'bench', 'ids')")
KEY=$(DATABASE_URL="host=$PGHOST user=postgres dbname=$BENCH_DB" \
      "$BIN" keys create --name bench --scopes identity:admin 2>/dev/null)

work=$(mktemp -d)
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$work"; true; }
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATABASE_URL="postgres://idgraph_facade_bench:$PW@127.0.0.1:$PGPORT/$BENCH_DB" \
IDGRAPH_LISTEN=127.0.0.1:$PORT IDGRAPH_TLS_CERT=$work/cert.pem IDGRAPH_TLS_KEY=$work/key.pem \
IDGRAPH_POOL_SIZE=$POOL IDGRAPH_RATE_LIMIT_BURST=100000000 IDGRAPH_RATE_LIMIT_PER_SEC=100000000 \
IDGRAPH_LOG=warn "$BIN" serve > "$OUT/facade.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf --cacert "$work/cert.pem" "https://localhost:$PORT/health/ready" >/dev/null && break
  sleep 0.2
done

# Bodies: one new random UUID each (oha picks one per request from this file, so ids
# repeat only by chance: almost every request allocates a new id, like pgbench below).
python3 - "$work/bodies" <<'PY'
import sys, uuid
with open(sys.argv[1], "w") as f:
    for _ in range(400000):
        f.write('{"table_name":"bench_facade.t","column_name":"id","external_id":"%s"}\n' % uuid.uuid4())
PY
# (No `::` casts or colons in it: pgbench would take them for variables.)
# The statement the allocation route runs, pipelined with its actor and trace settings as the facade
# does (one round trip), as the same role over the same TCP path.
cat > "$work/single.sql" <<SQL
\startpipeline
SELECT pg_catalog.set_config('idgraph.actor', 'key-bench', false), pg_catalog.set_config('idgraph.team', '', false), pg_catalog.set_config('application_name', 'idgraph-facade trace=4bf92f3577b34da6a3ce929d0e0e4736', false);
SELECT alloc_integer_id, is_new FROM idgraph._allocate(CAST('$SUB' AS uuid), idgraph._resolve_table('bench_facade.t'), 'id', CAST(gen_random_uuid() AS text), 'uuid', NULL, NULL, NULL);
\endpipeline
SQL
URL="https://localhost:$PORT/api/v1/identity/submissions/$SUB/allocations"
# Warm up both paths (connections, key cache, plans).
"$OHA" -n 500 -c 8 --no-tui --cacert "$work/cert.pem" -m POST -H "X-API-Key: $KEY" -H "content-type: application/json" \
  -Z "$work/bodies" "$URL" >/dev/null 2>&1 || true
PGPASSWORD=$PW pgbench -h 127.0.0.1 -U idgraph_facade_bench -n -M prepared -c 4 -j 2 -T 2 \
  -f "$work/single.sql" "$BENCH_DB" >/dev/null 2>&1 || true

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for c in $CONC; do
  j=$(( c < 2 ? c : 2 ))
  log "bench facade: $c concurrent — HTTPS"
  psql -qd "$BENCH_DB" -c CHECKPOINT
  "$OHA" -z "${BENCH_SECONDS}s" -c "$c" --no-tui --cacert "$work/cert.pem" --output-format json -m POST \
    -H "X-API-Key: $KEY" -H "content-type: application/json" -Z "$work/bodies" "$URL" \
    > "$OUT/oha-c$c.json"
  log "bench facade: $c concurrent — SQL"
  psql -qd "$BENCH_DB" -c CHECKPOINT
  (cd "$OUT" && PGPASSWORD=$PW pgbench -h 127.0.0.1 -U idgraph_facade_bench -n -M prepared \
     -c "$c" -j "$j" -T "$BENCH_SECONDS" -l --sampling-rate=0.2 --log-prefix="pgbench-c$c" \
     -f "$work/single.sql" "$BENCH_DB" > "$OUT/pgbench-c$c.txt" 2>&1)
done
# The same two statements without the pipeline (two round trips), one client: what one
# more process hop costs on this machine right now.
grep -v pipeline "$work/single.sql" > "$work/single_nopipe.sql"
psql -qd "$BENCH_DB" -c CHECKPOINT
(cd "$OUT" && PGPASSWORD=$PW pgbench -h 127.0.0.1 -U idgraph_facade_bench -n -M prepared \
   -c 1 -j 1 -T "$BENCH_SECONDS" -f "$work/single_nopipe.sql" "$BENCH_DB" > "$OUT/pgbench-nopipe-c1.txt" 2>&1)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=$(psql -Atqd "$BENCH_DB" -c "SELECT count(*) FROM idgraph.allocations")
python3 "$ROOT/benches/facade/report.py" "$OUT" "$README" "$CONC" "$BENCH_SECONDS" "$POOL" \
  "$LOAD_START" "$LOAD_END" "$ROWS" "$("$OHA" --version | head -1)" "$(pgbench --version)" \
  "$(psql -Atqd "$BENCH_DB" -c 'SELECT version()' | cut -d' ' -f1-2)"
log "bench facade: results in $README (facade-bench section)"
