#!/usr/bin/env bash
# The centrality background worker, end to end: a throwaway cluster (its own data dir,
# port and socket, never the shared one) with idgraph in shared_preload_libraries and a
# 1-second refresh interval. The worker must compute betweenness after an ingest without
# anyone calling refresh_centrality, and again after the topology changes. With a 1-second
# SLO maintenance interval it must also apply the SLI retention by itself. With submission
# expiry on and a 2-second expiry age it must roll back a stale pending submission with
# reason 'expired' (and leave a committed one alone). On a streaming standby with expiry on,
# the worker must do nothing: a stale submission stays pending there and no error is
# logged; once the standby is promoted, its worker expires it.
. "$(dirname "$0")/../scripts/env.sh"
cd "$(dirname "$0")/.."
PORT=${BGW_PORT:-5498}
DIR=$(mktemp -d /tmp/idgraph-bgw.XXXXXX)
chown postgres "$DIR"
PGCTL="runuser -u postgres -- $PGBIN/pg_ctl"
cleanup() {
  $PGCTL -D "$DIR/standby" -m immediate stop >/dev/null 2>&1 || true
  $PGCTL -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
runuser -u postgres -- "$PGBIN/initdb" -D "$DIR/data" -A trust -U postgres >/dev/null
cat >> "$DIR/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_preload_libraries = 'idgraph'
idgraph.centrality_database = 'postgres'
idgraph.centrality_refresh_interval = 1
idgraph.slo_maintenance_interval = 1
idgraph.submission_expiry_enabled = on
idgraph.submission_expiry_age = 2
CONF
$PGCTL -D "$DIR/data" -l "$DIR/log" -w start >/dev/null
P="psql -X -q -At -h $DIR -p $PORT -U postgres"
$P -d postgres -c "CREATE EXTENSION idgraph"
$P -d postgres -c "SELECT 1 FROM pg_stat_activity WHERE backend_type = 'idgraph centrality refresher'" | grep -q 1 \
  || { echo "FAIL: the background worker is not running"; cat "$DIR/log"; exit 1; }
$P -d postgres -c "SELECT idgraph.ingest_graph('{\"source\": \"manual\", \"edges\": [
   {\"source\": \"a\", \"target\": \"b\"}, {\"source\": \"b\", \"target\": \"c\"}, {\"source\": \"a\", \"target\": \"d\"}]}')" >/dev/null
wait_fresh() { # expected betweenness of b
  for _ in $(seq 1 40); do
    got=$($P -d postgres -c "SELECT betweenness FROM idgraph.centrality_of('b') WHERE NOT betweenness_stale")
    [ "$got" = "$1" ] && return 0
    sleep 0.5
  done
  echo "FAIL: betweenness of b is '${got:-stale}', expected $1"; tail -20 "$DIR/log"; return 1
}
# b lies on a -> c only.
wait_fresh 1 || exit 1
echo "ok 1 - the worker computed betweenness after an ingest"
$P -d postgres -c "SELECT idgraph.ingest_graph('{\"source\": \"manual\", \"edges\": [{\"source\": \"x\", \"target\": \"a\"}]}')" >/dev/null
# Now b lies on a -> c and x -> c.
wait_fresh 2 || exit 1
echo "ok 2 - the worker refreshed betweenness after the topology changed"
# An hourly SLI window 91 days old: past the 90-day retention.
$P -d postgres -c "SELECT idgraph.record_sli(jsonb_build_object('windows', jsonb_build_array(jsonb_build_object(
   'service_id', 'a', 'window', '1h', 'good_events', 1, 'total_events', 1,
   'start', to_char(to_timestamp(floor(extract(epoch FROM now()) / 3600) * 3600 - 91 * 86400) AT TIME ZONE 'UTC',
                    'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))))" | grep -q '"inserted": 1' \
  || { echo "FAIL: the old SLI window was not recorded"; exit 1; }
for _ in $(seq 1 40); do
  left=$($P -d postgres -c "SELECT count(*) FROM idgraph.sli_aggregates")
  [ "$left" = 0 ] && break
  sleep 0.5
done
[ "$left" = 0 ] || { echo "FAIL: the worker did not apply the SLI retention ($left windows left)"; tail -20 "$DIR/log"; exit 1; }
echo "ok 3 - the worker applied the SLI retention"
$P -d postgres -c "SELECT idgraph.ensure_submission('9b9b9b9b-0000-4000-8000-000000000001', 'bgw-stale');
                   SELECT idgraph.ensure_submission('9b9b9b9b-0000-4000-8000-000000000002', 'bgw-done');
                   SELECT * FROM idgraph.commit_submission('9b9b9b9b-0000-4000-8000-000000000002')" >/dev/null
for _ in $(seq 1 40); do
  got=$($P -d postgres -c "SELECT status || '/' || coalesce(rollback_reason, '') FROM idgraph.submissions WHERE submission_name = 'bgw-stale'")
  [ "$got" = "rolled_back/expired" ] && break
  sleep 0.5
done
[ "$got" = "rolled_back/expired" ] || { echo "FAIL: the stale submission is '$got', expected rolled_back/expired"; tail -20 "$DIR/log"; exit 1; }
[ "$($P -d postgres -c "SELECT status FROM idgraph.submissions WHERE submission_name = 'bgw-done'")" = committed ] \
  || { echo "FAIL: the worker touched a committed submission"; exit 1; }
echo "ok 4 - the worker rolled back a stale pending submission with reason expired"
# A standby of this cluster: expiry off on the primary (so that only the standby's worker
# could touch the stale submission), on on the standby.
$P -d postgres -c "ALTER SYSTEM SET idgraph.submission_expiry_enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
$P -d postgres -c "SELECT idgraph.ensure_submission('9b9b9b9b-0000-4000-8000-000000000003', 'bgw-standby')" >/dev/null
SPORT=$((PORT + 1))
runuser -u postgres -- "$PGBIN/pg_basebackup" -h "$DIR" -p "$PORT" -U postgres -D "$DIR/standby" -R -X stream >/dev/null
printf "port = %s\nidgraph.submission_expiry_enabled = on\n" "$SPORT" >> "$DIR/standby/postgresql.auto.conf"
$PGCTL -D "$DIR/standby" -l "$DIR/standby.log" -w start >/dev/null
S="psql -X -q -At -h $DIR -p $SPORT -U postgres"
[ "$($S -d postgres -c "SELECT pg_is_in_recovery() AND current_setting('idgraph.submission_expiry_enabled') = 'on'")" = t ] \
  || { echo "FAIL: the standby is not in recovery with expiry on"; exit 1; }
sleep 3
[ "$($S -d postgres -c "SELECT status FROM idgraph.submissions WHERE submission_name = 'bgw-standby'")" = pending ] \
  || { echo "FAIL: the stale submission is not pending on the standby"; exit 1; }
# The worker starts when recovery has finished (pgrx's enable_spi_access), and checks
# RecoveryInProgress() before each round besides.
[ "$($S -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'idgraph centrality refresher'")" = 0 ] \
  || { echo "FAIL: the worker runs on the standby"; exit 1; }
if grep -E "ERROR|read-only transaction|expiry failed" "$DIR/standby.log"; then
  echo "FAIL: the worker tried to write on the standby"; exit 1
fi
echo "ok 5 - on a standby the worker does nothing (expiry on, stale submission left pending, no error)"
$PGCTL -D "$DIR/standby" -w promote >/dev/null
for _ in $(seq 1 40); do
  got=$($S -d postgres -c "SELECT status || '/' || coalesce(rollback_reason, '') FROM idgraph.submissions WHERE submission_name = 'bgw-standby'")
  [ "$got" = "rolled_back/expired" ] && break
  sleep 0.5
done
[ "$got" = "rolled_back/expired" ] || { echo "FAIL: after promotion the stale submission is '$got'"; tail -20 "$DIR/standby.log"; exit 1; }
echo "ok 6 - promoted, the worker expires it"
echo "6 passed, 0 failed"
