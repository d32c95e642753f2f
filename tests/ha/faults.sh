#!/usr/bin/env bash
# Stage `ha` of scripts/test.sh (also `make test-ha`): faults under load on the Patroni
# cluster (tests/ha/up.sh) — the primary killed, the primary cut off the network, a
# switchover, a replica lost (tests/ha/faults.py; the primary's Patroni frozen when asked
# for by name, `freeze`) — then the facade on the cluster (tests/ha/facade.py), then
# PgBouncer in transaction pooling, with the facade behind it too (tests/ha/pgbouncer.sh).
# Uses a cluster that is already up (make ha-up) and leaves it; otherwise brings one up
# and removes it after. Bounded: every step has a timeout; about 5 minutes in all.
# Usage: tests/ha/faults.sh [kill|partition|switchover|freeze|replica...] | --setup-only (role and target)
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
# It kills and signals processes of the postgres OS user, and cuts links.
if [ "$(id -u)" != 0 ]; then exec sudo -E "$0" "$@"; fi
# Built here: the hub namespace has no way out (cargo may want the registry).
ha_in_hub || cargo build -q -p idgraph-facade
ha_use_cluster "$0" "$@"
started=${HA_STARTED:-}
rc=0
cleanup() {
  if [ "$rc" != 0 ] && [ -d "$HA_DIR" ]; then
    patronictl -c "$HA_DIR/node1/patroni.yml" list || true
    for n in "${HA_NODES[@]}"; do echo "--- $n"; grep -v "no action" "$HA_DIR/$n/patroni.log" | tail -15; done
  fi
  # A fault test that failed half-way may leave a link down.
  for i in 0 1 2; do ha_uncut "$i" 2>/dev/null || true; done
  [ -n "$started" ] && tests/ha/down.sh >/dev/null 2>&1
  return 0
}
trap cleanup EXIT
L=$(ha_leader)
# The test's own target and LOGIN role (a writer, never a superuser), made idempotently.
grep -q '^\*:\*:\*:ha_writer:' "$PGPASSFILE" || echo "*:*:*:ha_writer:$(openssl rand -hex 16)" >> "$PGPASSFILE"
WPW=$(grep '^\*:\*:\*:ha_writer:' "$PGPASSFILE" | cut -d: -f5)
ha_psql "$L" -d "$HA_DB" -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ha_writer') THEN CREATE ROLE ha_writer LOGIN; END IF;
END \$\$;
ALTER ROLE ha_writer LOGIN NOSUPERUSER PASSWORD '$WPW';
GRANT idgraph_writer TO ha_writer;
CREATE SCHEMA IF NOT EXISTS ha;
GRANT USAGE ON SCHEMA ha TO idgraph_reader;
CREATE TABLE IF NOT EXISTS ha.tbl_items (item_id serial PRIMARY KEY);
SELECT count(*) FROM idgraph.register_target('ha.tbl_items', 'item_id')
 WHERE NOT EXISTS (SELECT 1 FROM idgraph.targets WHERE table_oid = 'ha.tbl_items'::regclass);
SQL
if [ "${1:-}" = --setup-only ]; then started=""; exit 0; fi
rc=0
timeout 300 /usr/bin/python3 tests/ha/faults.py "$@" || rc=1

# The facade on the cluster: multi-host URLs, its own LOGIN role (never a superuser).
log "the facade on the HA cluster"
L=$(ha_leader)
SU_PW=$(grep -m1 ":postgres:" "$PGPASSFILE" | cut -d: -f5)
grep -q '^\*:\*:\*:ha_facade:' "$PGPASSFILE" || echo "*:*:*:ha_facade:$(openssl rand -hex 16)" >> "$PGPASSFILE"
FPW=$(grep '^\*:\*:\*:ha_facade:' "$PGPASSFILE" | cut -d: -f5)
ha_psql "$L" -d "$HA_DB" -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ha_facade') THEN CREATE ROLE ha_facade LOGIN; END IF;
END \$\$;
ALTER ROLE ha_facade LOGIN NOSUPERUSER PASSWORD '$FPW';
GRANT idgraph_facade TO ha_facade;
SQL
BIN=target/debug/idgraph-facade
ADMIN="host=${HA_ADDRS[$L]} port=${HA_PG_PORTS[$L]} user=postgres password=$SU_PW dbname=$HA_DB"
export HA_FACADE_WRITER_KEY=$(DATABASE_URL=$ADMIN $BIN keys create --name ha-writer --team ha --scopes identity:write)
export HA_FACADE_READER_KEY=$(DATABASE_URL=$ADMIN $BIN keys create --name ha-reader --team ha-other --scopes identity:read)
export HA_FACADE_URL=http://127.0.0.1:8461
HOSTS="host=$HA_ADDRS_CSV port=${HA_PG_PORTS[0]},${HA_PG_PORTS[1]},${HA_PG_PORTS[2]} user=ha_facade password=$FPW dbname=$HA_DB $HA_TCP_FACADE"
DATABASE_URL="$HOSTS target_session_attrs=read-write" IDGRAPH_READ_DATABASE_URL="$HOSTS target_session_attrs=read-only" \
IDGRAPH_LISTEN=127.0.0.1:8461 IDGRAPH_INSECURE_HTTP=true IDGRAPH_LOG=warn IDGRAPH_POOL_WAIT_MS=1000 \
IDGRAPH_RATE_LIMIT_BURST=100000 IDGRAPH_RATE_LIMIT_PER_SEC=100000 \
  setsid $BIN serve >> "$HA_DIR/facade.log" 2>&1 </dev/null &
echo $! > "$HA_DIR/facade.client.pid"
for _ in $(seq 1 50); do curl -sf "$HA_FACADE_URL/health/ready" >/dev/null && break; sleep 0.2; done
timeout 200 /usr/bin/python3 tests/ha/facade.py || { rc=1; tail -20 "$HA_DIR/facade.log"; }
kill -TERM "$(cat "$HA_DIR/facade.client.pid")" 2>/dev/null || true

tests/ha/pgbouncer.sh || rc=1
exit $rc
