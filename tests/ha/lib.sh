# Shared settings of the HA cluster scripts (tests/ha/*.sh). Source it.
# One etcd and three Patroni-managed PostgreSQL 15 nodes on loopback, every file under
# $HA_DIR, every process run as the postgres OS user (PostgreSQL refuses root).
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
export HA_DIR=${HA_DIR:-/tmp/idgraph-ha}
export HA_SCOPE=idgraph-ha
export HA_DB=${HA_DB:-idgraph}
HA_NODES=(node1 node2 node3)
HA_PG_PORTS=(5461 5462 5463)
HA_REST_PORTS=(8011 8012 8013)
HA_ETCD_CLIENT=2391
HA_ETCD_PEER=2392
HA_PGBOUNCER_PORT=6461
export ETCDCTL_API=3
HA_PKGS="patroni etcd-server etcd-client pgbouncer python3-psycopg2 curl"
# Multi-host libpq connection strings: writes find the primary, reads prefer a standby.
HA_HOSTS="host=127.0.0.1,127.0.0.1,127.0.0.1 port=${HA_PG_PORTS[0]},${HA_PG_PORTS[1]},${HA_PG_PORTS[2]}"
export HA_RW="$HA_HOSTS dbname=$HA_DB target_session_attrs=read-write connect_timeout=2"
export HA_RO="$HA_HOSTS dbname=$HA_DB target_session_attrs=prefer-standby connect_timeout=2"
# Password authentication on loopback; root's client side reads this pgpass file.
export PGPASSFILE=$HA_DIR/pgpass

ha_as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
# Starts "$@" as the postgres OS user in a session of its own, detached, its pid (the very
# process: sh execs it) in file $1.
ha_daemon() { # pidfile logfile command...
  local pidfile=$1 logfile=$2; shift 2
  setsid sh -c 'echo $$ > "$0"; exec "$@"' "$pidfile" \
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@" >>"$logfile" 2>&1 </dev/null &
  local _
  for _ in $(seq 1 50); do [ -s "$pidfile" ] && return 0; sleep 0.1; done
  echo "could not start $1" >&2; return 1
}
# psql as the superuser against node index $1 (0..2), rest passed through.
ha_psql() { local i=$1; shift; psql -X -q -At -h 127.0.0.1 -p "${HA_PG_PORTS[$i]}" -U postgres "$@"; }
# Index of the node whose Patroni says it is the leader (GET /primary answers 200), or -1.
ha_leader() {
  local i
  for i in 0 1 2; do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:${HA_REST_PORTS[$i]}/primary")" = 200 ]; then
      echo "$i"; return 0
    fi
  done
  echo -1
}
ha_patronictl() { patronictl -c "$HA_DIR/node1/patroni.yml" "$@"; }
# Waits (bounded) until one leader and $1 (default 2) streaming replicas, one of them sync.
ha_wait_healthy() {
  local want=${1:-2} deadline=$((SECONDS + ${2:-90})) json
  while [ $SECONDS -lt $deadline ]; do
    json=$(curl -s --max-time 2 "http://127.0.0.1:${HA_REST_PORTS[$(ha_leader | sed 's/-1/0/')]}/cluster" || true)
    if python3 - "$want" "$json" <<'PY' 2>/dev/null; then return 0; fi
import json, sys
want, c = int(sys.argv[1]), json.loads(sys.argv[2])
m = c["members"]
leaders = [x for x in m if x["role"] == "leader" and x["state"] == "running"]
reps = [x for x in m if x["role"] in ("replica", "sync_standby") and x["state"] in ("streaming", "running")]
sync = [x for x in m if x["role"] == "sync_standby"]
sys.exit(0 if len(leaders) == 1 and len(reps) >= want and (want == 0 or sync) else 1)
PY
    sleep 0.5
  done
  return 1
}
