#!/usr/bin/env bash
# PgBouncer (Debian) in transaction pooling in front of the HA cluster's primary, run by
# tests/ha/faults.sh after the faults (in the hub namespace):
# 1. 200 client connections over 20 server connections allocate at once (pgbench, as the
#    facade's role ha_facade), and per-request settings never reach another client: half
#    the transactions set the principal (idgraph.set_principal inside the transaction,
#    which ends with it) and application_name (SET LOCAL) and read the latter back in the
#    same transaction; the other half set nothing and must be audited as the session
#    user, whatever the server connection ran before.
# 2. The facade behind the same PgBouncer (IDGRAPH_DATABASE_POOLER=transaction): two API
#    keys of two teams allocate over HTTP while pgbench clients without a principal share
#    the pool; every audit row names its own request's principal (tests/ha/pgbouncer_facade.py).
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
PB=$HA_DIR/pgbouncer
CLIENTS=${HA_PGB_CLIENTS:-200}
TX=${HA_PGB_TX:-25}
L=$(ha_leader)
[ "$L" -ge 0 ] || { echo "FAIL: no leader"; exit 1; }
WPW=$(grep '^\*:\*:\*:ha_facade:' "$PGPASSFILE" | cut -d: -f5)
install -d -m 700 -o postgres -g postgres "$PB"
cat > "$PB/pgbouncer.ini" <<INI
[databases]
$HA_DB = host=${HA_ADDRS[$L]} port=${HA_PG_PORTS[$L]} dbname=$HA_DB
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $HA_PGBOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $PB/userlist.txt
pool_mode = transaction
default_pool_size = 20
max_db_connections = 20
max_client_conn = 500
server_reset_query =
logfile = $PB/pgbouncer.log
admin_users = ha_facade
ignore_startup_parameters = extra_float_digits
INI
echo "\"ha_facade\" \"$WPW\"" > "$PB/userlist.txt"
chown postgres "$PB"/*; chmod 600 "$PB"/*
ha_daemon "$PB/pgbouncer.pid" "$PB/stderr.log" pgbouncer "$PB/pgbouncer.ini"
for _ in $(seq 1 50); do psql -X -Atq "host=127.0.0.1 port=$HA_PGBOUNCER_PORT dbname=$HA_DB user=ha_facade" -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
P="psql -X -Atq -v ON_ERROR_STOP=1"
BOUNCER="host=127.0.0.1 port=$HA_PGBOUNCER_PORT dbname=$HA_DB user=ha_facade"
SUB=$($P "$BOUNCER" -c "SELECT idgraph.create_submission('pgbouncer-$(date +%s%N)', 'ha-test', 'items')")
RUN=$(date +%s%N)
cat > "$PB/set_local.sql" <<'SQL'
\set n random(1, 2000000000)
BEGIN;
SELECT idgraph.set_principal('pgb-' || :client_id);
SET LOCAL application_name = 'pgb-app';
SELECT alloc_integer_id FROM idgraph.allocate(:sub, 'ha.tbl_items', 'item_id', 'pgb-' || :run || '-' || :client_id || '-' || :n, 'natural_key');
-- In the same transaction the setting is still this transaction's (else division by zero).
SELECT 1 / (pg_catalog.current_setting('application_name') = 'pgb-app')::int;
-- The principal is not cleared: it ends with the transaction.
END;
SQL
cat > "$PB/unset.sql" <<'SQL'
\set n random(1, 2000000000)
SELECT alloc_integer_id FROM idgraph.allocate(:sub, 'ha.tbl_items', 'item_id', 'pgb-' || :run || '-none' || :client_id || '-' || :n, 'natural_key');
SELECT 1 / (pg_catalog.current_setting('application_name') <> 'pgb-app')::int;
SQL
chmod 644 "$PB"/*.sql
fails=0
t0=$(date +%s.%N)
out=$(PGPASSWORD=$WPW timeout 180 "$PGBIN/pgbench" -n -M extended -c "$CLIENTS" -j 4 -t "$TX" \
        -D sub="$SUB" -D run="$RUN" -f "$PB/set_local.sql" -f "$PB/unset.sql" \
        -h 127.0.0.1 -p "$HA_PGBOUNCER_PORT" -U ha_facade "$HA_DB" 2>&1) || { echo "$out" | tail -20; fails=$((fails + 1)); }
echo "$out" | grep -E "^(number of clients|number of transactions actually|number of failed|tps)" || true
want=$((CLIENTS * TX))
# Every transaction through PgBouncer audited exactly once, each with its own actor.
read -r rows wrong <<<"$(ha_psql "$L" -d "$HA_DB" -F ' ' -c "
  SELECT count(*),
         count(*) FILTER (WHERE actor IS DISTINCT FROM
           CASE WHEN split_part(external_id, '-', 3) LIKE 'none%' THEN 'ha_facade'
                ELSE 'pgb-' || split_part(external_id, '-', 3) END)
    FROM idgraph.audit_log WHERE action = 'allocate' AND external_id LIKE 'pgb-$RUN-%'")"
echo "pgbouncer: $rows audit rows of $want transactions, $wrong with another client's actor"
[ "$rows" = "$want" ] || { echo "FAIL: $rows audit rows, expected $want"; fails=$((fails + 1)); }
[ "$wrong" = 0 ] || { echo "FAIL: $wrong audit rows carry another transaction's actor"; fails=$((fails + 1)); }
servers=$(ha_psql "$L" -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'ha_facade' AND client_port IS NOT NULL AND application_name NOT LIKE 'idgraph-facade%'")
echo "pgbouncer: $servers server connections left open by PgBouncer (at most 20)"
[ "$servers" -le 20 ] || { echo "FAIL: $servers server connections"; fails=$((fails + 1)); }
echo "figure: pgbouncer: $CLIENTS clients over 20 server connections, $(echo "$out" | grep -oE 'tps = [0-9.]+' | head -1) (transaction pooling)"

# 2. The facade behind PgBouncer, sharing the pool with pgbench clients that set nothing.
BIN=target/debug/idgraph-facade
SU_PW=$(grep -m1 ":postgres:" "$PGPASSFILE" | cut -d: -f5)
ADMIN="host=${HA_ADDRS[$L]} port=${HA_PG_PORTS[$L]} user=postgres password=$SU_PW dbname=$HA_DB"
export HA_PGB_KEY_A=$(DATABASE_URL=$ADMIN $BIN keys create --name pgb-a --team ha --scopes identity:write,identity:read)
export HA_PGB_KEY_B=$(DATABASE_URL=$ADMIN $BIN keys create --name pgb-b --team ha-b --scopes identity:write,identity:read)
export HA_PGB_RUN=$(date +%s%N) HA_FACADE_URL=http://127.0.0.1:8462
# Placeholders the facade module reads at import; this test uses the keys above.
export HA_FACADE_WRITER_KEY=$HA_PGB_KEY_A HA_FACADE_READER_KEY=$HA_PGB_KEY_B
DATABASE_URL="host=127.0.0.1 port=$HA_PGBOUNCER_PORT user=ha_facade password=$WPW dbname=$HA_DB sslmode=disable connect_timeout=2" \
IDGRAPH_DATABASE_POOLER=transaction IDGRAPH_POOL_SIZE=16 \
IDGRAPH_LISTEN=127.0.0.1:8462 IDGRAPH_INSECURE_HTTP=true IDGRAPH_LOG=warn \
IDGRAPH_RATE_LIMIT_BURST=100000 IDGRAPH_RATE_LIMIT_PER_SEC=100000 \
  setsid $BIN serve >> "$PB/facade.log" 2>&1 </dev/null &
echo $! > "$HA_DIR/facade-pgbouncer.client.pid"
for _ in $(seq 1 50); do curl -sf "$HA_FACADE_URL/health/ready" >/dev/null && break; sleep 0.2; done
curl -sf "$HA_FACADE_URL/health/ready" >/dev/null || { echo "FAIL: the facade behind PgBouncer is not ready"; tail -20 "$PB/facade.log"; fails=$((fails + 1)); }
PGPASSWORD=$WPW timeout 180 "$PGBIN/pgbench" -n -M extended -c 40 -j 2 -T 20 \
        -D sub="$SUB" -D run="$RUN" -f "$PB/unset.sql" \
        -h 127.0.0.1 -p "$HA_PGBOUNCER_PORT" -U ha_facade "$HA_DB" > "$PB/pgbench-beside.log" 2>&1 &
bench=$!
timeout 170 /usr/bin/python3 tests/ha/pgbouncer_facade.py || { fails=$((fails + 1)); tail -20 "$PB/facade.log"; }
wait "$bench" || { echo "FAIL: pgbench beside the facade"; tail -5 "$PB/pgbench-beside.log"; fails=$((fails + 1)); }
# The pgbench clients beside it, audited as themselves whatever the facade ran before.
wrong=$(ha_psql "$L" -d "$HA_DB" -c "
  SELECT count(*) FILTER (WHERE actor <> 'ha_facade') FROM idgraph.audit_log
   WHERE action = 'allocate' AND external_id LIKE 'pgb-$RUN-none%'")
echo "pgbouncer: $wrong pgbench allocations beside the facade audited as someone else"
[ "$wrong" = 0 ] || { echo "FAIL: $wrong pgbench allocations carry a facade principal"; fails=$((fails + 1)); }
kill -TERM "$(cat "$HA_DIR/facade-pgbouncer.client.pid")" 2>/dev/null || true
kill -TERM "$(cat "$PB/pgbouncer.pid")" 2>/dev/null || true
[ "$fails" = 0 ] && echo "pgbouncer: ok" || { echo "pgbouncer: $fails failures"; exit 1; }
