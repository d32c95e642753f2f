# Shared settings of the HA cluster scripts (tests/ha/*.sh). Source it.
# One etcd and three Patroni-managed PostgreSQL 15 nodes, every file under $HA_DIR, every
# process run as the postgres OS user (PostgreSQL refuses root). Each node is a host of
# its own: a network namespace (idgha1..3) joined by a veth pair to a bridge in the hub
# namespace (idgha), where etcd, the clients, the facade and PgBouncer run, so that a
# test can cut a node off the network (its link down). Nothing touches the machine's own
# network: every address is in namespaces these scripts make and remove.
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
export HA_DIR=${HA_DIR:-/tmp/idgraph-ha}
export HA_SCOPE=idgraph-ha
export HA_DB=${HA_DB:-idgraph}
HA_NODES=(node1 node2 node3)
HA_NETNS=idgha
HA_NODE_NS=(idgha1 idgha2 idgha3)
HA_HUB_ADDR=10.78.0.1
HA_ADDRS=(10.78.0.11 10.78.0.12 10.78.0.13)
export HA_ADDRS_CSV=$(IFS=,; echo "${HA_ADDRS[*]}")
HA_PG_PORTS=(5461 5462 5463)
HA_REST_PORTS=(8011 8012 8013)
HA_ETCD_CLIENT=2391
HA_ETCD_PEER=2392
HA_PGBOUNCER_PORT=6461
export ETCDCTL_API=3
HA_PKGS="patroni etcd-server etcd-client pgbouncer python3-psycopg2 curl"
# Multi-host libpq connection strings: writes find the primary, reads prefer a standby.
# A host cut off the network answers nothing: keepalives and tcp_user_timeout bound how
# long a client waits on it before trying the next.
HA_HOSTS="host=$HA_ADDRS_CSV port=${HA_PG_PORTS[0]},${HA_PG_PORTS[1]},${HA_PG_PORTS[2]}"
HA_TCP="connect_timeout=2 keepalives=1 keepalives_idle=2 keepalives_interval=1 keepalives_count=2 tcp_user_timeout=4000"
# The same for tokio-postgres (the facade): keepalives_retries, tcp_user_timeout in seconds.
HA_TCP_FACADE="connect_timeout=2 keepalives=1 keepalives_idle=2 keepalives_interval=1 keepalives_retries=2 tcp_user_timeout=4"
export HA_RW="$HA_HOSTS dbname=$HA_DB target_session_attrs=read-write $HA_TCP"
export HA_RO="$HA_HOSTS dbname=$HA_DB target_session_attrs=prefer-standby $HA_TCP"
# Password authentication everywhere; root's client side reads this pgpass file.
export PGPASSFILE=$HA_DIR/pgpass

ha_as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
# Whether this process runs in the hub namespace.
ha_in_hub() { [ "$(ip netns identify $$ 2>/dev/null)" = "$HA_NETNS" ]; }
# Re-runs the calling script inside the hub namespace (where the cluster is reachable)
# unless it already runs there: ha_enter_hub "$0" "$@".
ha_enter_hub() {
  ha_in_hub && return 0
  ip netns list | grep -qw "$HA_NETNS" || { echo "no HA network (namespace $HA_NETNS): make ha-up first" >&2; exit 1; }
  exec ip netns exec "$HA_NETNS" "$@"
}
# For a script that uses the cluster: brings it up unless it is up and healthy, then
# re-runs the script inside the hub namespace with HA_STARTED=1 when it was brought up
# here (so that the script removes it again at its end): ha_use_cluster "$0" "$@".
ha_use_cluster() {
  ha_in_hub && return 0
  local started=""
  if ! { ip netns list | grep -qw "$HA_NETNS" \
         && ip netns exec "$HA_NETNS" bash -c '. tests/ha/lib.sh; [ -d "$HA_DIR" ] && ha_wait_healthy 2 3'; }; then
    tests/ha/up.sh >/dev/null
    started=1
  fi
  HA_STARTED=$started exec ip netns exec "$HA_NETNS" "$@"
}
# Makes the namespaces, the bridge and the veth pairs (idempotent).
ha_net_up() {
  local i ns
  if ! ip netns list | grep -qw "$HA_NETNS"; then
    ip netns add "$HA_NETNS"
    ip -n "$HA_NETNS" link set lo up
    ip -n "$HA_NETNS" link add br0 type bridge
    ip -n "$HA_NETNS" addr add "$HA_HUB_ADDR/24" dev br0
    ip -n "$HA_NETNS" link set br0 up
  fi
  for i in 0 1 2; do
    ns=${HA_NODE_NS[$i]}
    ip netns list | grep -qw "$ns" && continue
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$HA_NETNS" link add "veth$((i + 1))" type veth peer name eth0 netns "$ns"
    ip -n "$HA_NETNS" link set "veth$((i + 1))" master br0 up
    ip -n "$ns" addr add "${HA_ADDRS[$i]}/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}
ha_net_down() {
  local ns
  for ns in "${HA_NODE_NS[@]}" "$HA_NETNS"; do
    ip netns list | grep -qw "$ns" && ip netns del "$ns"
  done
  return 0
}
# Node $1's link down (cut off the network) or up again.
ha_cut() { ip -n "${HA_NODE_NS[$1]}" link set eth0 down; }
ha_uncut() { ip -n "${HA_NODE_NS[$1]}" link set eth0 up; }
# Starts "$@" as the postgres OS user in a session of its own, detached, its pid (the very
# process: sh execs it) in file $1, in the network namespace $HA_DAEMON_NS if set.
ha_daemon() { # pidfile logfile command...
  local pidfile=$1 logfile=$2; shift 2
  local netns=()
  [ -n "${HA_DAEMON_NS:-}" ] && netns=(ip netns exec "$HA_DAEMON_NS")
  setsid "${netns[@]}" sh -c 'echo $$ > "$0"; exec "$@"' "$pidfile" \
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@" >>"$logfile" 2>&1 </dev/null &
  local _
  for _ in $(seq 1 50); do [ -s "$pidfile" ] && return 0; sleep 0.1; done
  echo "could not start $1" >&2; return 1
}
# psql as the superuser against node index $1 (0..2), rest passed through.
ha_psql() { local i=$1; shift; psql -X -q -At -h "${HA_ADDRS[$i]}" -p "${HA_PG_PORTS[$i]}" -U postgres "$@"; }
# Index of the node whose Patroni says it is the leader (GET /primary answers 200), or -1.
ha_leader() {
  local i
  for i in 0 1 2; do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://${HA_ADDRS[$i]}:${HA_REST_PORTS[$i]}/primary")" = 200 ]; then
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
    local l; l=$(ha_leader | sed 's/-1/0/')
    json=$(curl -s --max-time 2 "http://${HA_ADDRS[$l]}:${HA_REST_PORTS[$l]}/cluster" || true)
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
