#!/usr/bin/env bash
# PgBouncer (Debian) in transaction pooling in front of the HA cluster's primary, run by
# tests/ha/faults.sh after the faults: 200 client connections over 20 server connections
# allocate at once (pgbench, as the facade's role ha_facade), and per-request settings
# never reach another client: half the transactions set the principal
# (idgraph.set_principal, cleared again before COMMIT) and application_name (SET LOCAL)
# and read the latter back in the same transaction; the other half set nothing and must
# be audited as the session user, whatever the server connection ran before.
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
$HA_DB = host=127.0.0.1 port=${HA_PG_PORTS[$L]} dbname=$HA_DB
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
SELECT idgraph.set_principal(NULL);
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
kill -TERM "$(cat "$PB/pgbouncer.pid")" 2>/dev/null || true
[ "$fails" = 0 ] && echo "pgbouncer: ok" || { echo "pgbouncer: $fails failures"; exit 1; }
