#!/usr/bin/env bash
# `make ha-up`: etcd (one member) and three Patroni-managed PostgreSQL 15 nodes, each in
# a network namespace of its own (tests/ha/lib.sh), synchronous_mode on, idgraph
# preloaded on every node and deployed with `sqitch deploy --verify` through the leader
# (the replicas get it by replication). Idempotent: a cluster already up and healthy is
# left as it is.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."

missing=""
for p in $HA_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  log "installing Debian packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=300 $missing >/dev/null
fi
[ -f "$($SYSTEM_PG_CONFIG --sharedir)/extension/idgraph.control" ] \
  || { echo "idgraph is not installed into $($SYSTEM_PG_CONFIG --bindir)/..: run make install first" >&2; exit 1; }
if [ "$(id -u)" != 0 ]; then exec sudo -E "$0" "$@"; fi
if ! ha_in_hub; then
  ha_net_up
  ha_enter_hub "$0" "$@"
fi

if [ -d "$HA_DIR" ] && ha_wait_healthy 2 3; then
  log "the HA cluster in $HA_DIR is already up"
  ha_patronictl list
  exit 0
fi
if [ -d "$HA_DIR" ]; then
  log "a broken HA cluster in $HA_DIR: removing it first"
  "$(dirname "$0")/down.sh"
  # down.sh removed the namespaces too: make them again and carry on in the new hub.
  ha_net_up
  exec ip netns exec "$HA_NETNS" "$0" "$@"
fi

install -d -m 700 -o postgres -g postgres "$HA_DIR"
secret() { openssl rand -hex 16; }
SU_PW=$(secret); REPL_PW=$(secret); REWIND_PW=$(secret)
(umask 077
 for port in "${HA_PG_PORTS[@]}"; do
   echo "*:$port:*:postgres:$SU_PW"
   echo "*:$port:*:replicator:$REPL_PW"
   echo "*:$port:*:rewinder:$REWIND_PW"
 done > "$PGPASSFILE")
chown postgres "$PGPASSFILE"

log "etcd on $HA_HUB_ADDR:$HA_ETCD_CLIENT (hub namespace $HA_NETNS)"
ha_daemon "$HA_DIR/etcd.pid" "$HA_DIR/etcd.log" etcd --name ha0 --data-dir "$HA_DIR/etcd" \
  --listen-client-urls "http://$HA_HUB_ADDR:$HA_ETCD_CLIENT" --advertise-client-urls "http://$HA_HUB_ADDR:$HA_ETCD_CLIENT" \
  --listen-peer-urls "http://$HA_HUB_ADDR:$HA_ETCD_PEER" --initial-advertise-peer-urls "http://$HA_HUB_ADDR:$HA_ETCD_PEER" \
  --initial-cluster "ha0=http://$HA_HUB_ADDR:$HA_ETCD_PEER" --initial-cluster-state new \
  --initial-cluster-token idgraph-ha
for _ in $(seq 1 50); do
  etcdctl --endpoints "$HA_HUB_ADDR:$HA_ETCD_CLIENT" endpoint health >/dev/null 2>&1 && break
  sleep 0.2
done
etcdctl --endpoints "$HA_HUB_ADDR:$HA_ETCD_CLIENT" endpoint health >/dev/null 2>&1 \
  || { echo "etcd did not start; see $HA_DIR/etcd.log" >&2; tail -20 "$HA_DIR/etcd.log" >&2; exit 1; }

for i in 0 1 2; do
  n=${HA_NODES[$i]}
  install -d -m 700 -o postgres -g postgres "$HA_DIR/$n"
  cat > "$HA_DIR/$n/patroni.yml" <<YAML
# Patroni node $n of the idgraph test cluster (written by tests/ha/up.sh).
scope: $HA_SCOPE
namespace: /idgraph/
name: $n
log:
  level: INFO
restapi:
  listen: ${HA_ADDRS[$i]}:${HA_REST_PORTS[$i]}
  connect_address: ${HA_ADDRS[$i]}:${HA_REST_PORTS[$i]}
etcd3:
  hosts: $HA_HUB_ADDR:$HA_ETCD_CLIENT
bootstrap:
  dcs:
    # A lost leader is noticed within ttl; loop_wait + 2 * retry_timeout <= ttl.
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    # A commit is acknowledged only when a synchronous standby has it, so a failover to
    # the sync standby never loses an acknowledged allocation.
    synchronous_mode: true
    # A crashed primary is failed over at once (safe with synchronous_mode) instead of
    # being restarted in place.
    primary_start_timeout: 0
    postgresql:
      use_pg_rewind: true
      # Should pg_rewind fail after all, the node is cloned afresh from the leader.
      remove_data_directory_on_rewind_failure: true
      use_slots: true
      parameters:
        max_connections: 300
        max_wal_senders: 10
        max_replication_slots: 10
        wal_level: replica
        wal_log_hints: 'on'
        hot_standby: 'on'
        hot_standby_feedback: 'on'
        # A demoted primary keeps the WAL back to the last common checkpoint, which
        # pg_rewind reads when it rejoins (a busy minute writes hundreds of MB here).
        wal_keep_size: 1GB
        # A primary cut off the network shuts down (demoted) only once its walsenders give
        # up on the standbys they can no longer reach: seconds, not the default minute, or
        # Patroni gives up waiting with the old postmaster still holding the data directory.
        wal_sender_timeout: 5s
        wal_receiver_timeout: 5s
        shared_preload_libraries: idgraph
        idgraph.centrality_database: $HA_DB
  initdb:
  - encoding: UTF8
  - data-checksums
postgresql:
  # Its own address, and loopback inside its namespace (for a client on the node itself,
  # which a network cut does not reach).
  listen: ${HA_ADDRS[$i]},127.0.0.1:${HA_PG_PORTS[$i]}
  connect_address: ${HA_ADDRS[$i]}:${HA_PG_PORTS[$i]}
  data_dir: $HA_DIR/$n/data
  bin_dir: $PGBIN
  pgpass: $HA_DIR/$n/pgpass.patroni
  # A node cloned afresh (the first time, or after a failed pg_rewind) asks the leader for
  # an immediate checkpoint instead of waiting for a spread one (minutes after a busy run).
  basebackup:
  - checkpoint: fast
  authentication:
    superuser: {username: postgres, password: '$SU_PW'}
    replication: {username: replicator, password: '$REPL_PW'}
    rewind: {username: rewinder, password: '$REWIND_PW'}
  parameters:
    unix_socket_directories: '$HA_DIR/$n'
    shared_buffers: 64MB
  pg_hba:
  - local all all scram-sha-256
  - host replication replicator ${HA_HUB_ADDR%.*}.0/24 scram-sha-256
  - host all all ${HA_HUB_ADDR%.*}.0/24 scram-sha-256
  - host replication replicator 127.0.0.1/32 scram-sha-256
  - host all all 127.0.0.1/32 scram-sha-256
tags:
  nofailover: false
  noloadbalance: false
YAML
  chown postgres "$HA_DIR/$n/patroni.yml"; chmod 600 "$HA_DIR/$n/patroni.yml"
done

start_node() { # index
  local n=${HA_NODES[$1]}
  HA_DAEMON_NS=${HA_NODE_NS[$1]} ha_daemon "$HA_DIR/$n/patroni.pid" "$HA_DIR/$n/patroni.log" patroni "$HA_DIR/$n/patroni.yml"
}
# The first node bootstraps the cluster; the others then clone it with pg_basebackup.
log "Patroni node1 (bootstraps), then node2 and node3"
start_node 0
for _ in $(seq 1 120); do [ "$(ha_leader)" = 0 ] && break; sleep 0.5; done
[ "$(ha_leader)" = 0 ] || { echo "node1 did not become the leader; see $HA_DIR/node1/patroni.log" >&2; tail -30 "$HA_DIR/node1/patroni.log" >&2; exit 1; }
start_node 1
start_node 2
ha_wait_healthy 2 120 || { echo "the replicas did not come up" >&2; ha_patronictl list >&2; tail -20 "$HA_DIR"/node[23]/patroni.log >&2; exit 1; }

L=$(ha_leader)
log "deploying idgraph with sqitch through the leader ${HA_NODES[$L]} (port ${HA_PG_PORTS[$L]})"
ha_psql "$L" -d postgres -c "CREATE DATABASE $HA_DB"
(cd sqitch && PGHOST=${HA_ADDRS[$L]} PGPORT=${HA_PG_PORTS[$L]} \
   sqitch deploy --verify "db:pg://postgres@${HA_ADDRS[$L]}:${HA_PG_PORTS[$L]}/$HA_DB" >/dev/null)
ha_psql "$L" -d "$HA_DB" -v ON_ERROR_STOP=1 -f scripts/demo.sql >/dev/null
# Replicas have it once they replayed the leader's current WAL position.
lsn=$(ha_psql "$L" -d postgres -c "SELECT pg_current_wal_lsn()")
for i in 0 1 2; do
  [ "$i" = "$L" ] && continue
  for _ in $(seq 1 60); do
    [ "$(ha_psql "$i" -d postgres -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'" 2>/dev/null)" = t ] && break
    sleep 0.5
  done
  [ "$(ha_psql "$i" -d "$HA_DB" -c "SELECT extversion FROM pg_extension WHERE extname = 'idgraph'")" != "" ] \
    || { echo "${HA_NODES[$i]} has no idgraph after replication" >&2; exit 1; }
done
ha_patronictl list
cat <<MSG

The HA cluster is up: three hosts, network namespaces ${HA_NODE_NS[*]} at ${HA_ADDRS[*]}
(PostgreSQL ports ${HA_PG_PORTS[*]}, Patroni REST ${HA_REST_PORTS[*]}), etcd at
$HA_HUB_ADDR:$HA_ETCD_CLIENT; database '$HA_DB' with the demo. They are reached from the hub
namespace $HA_NETNS (run a shell there first). Everything lives in $HA_DIR.

  sudo ip netns exec $HA_NETNS bash    # a shell on the cluster's network, then:
  export PGPASSFILE=$PGPASSFILE
  psql "$HA_RW user=postgres"
      # the primary, wherever it is (target_session_attrs=read-write)
  psql "$HA_RO user=postgres"
      # a replica when one is up (prefer-standby)
  patronictl -c $HA_DIR/node1/patroni.yml list
  patronictl -c $HA_DIR/node1/patroni.yml switchover --force
  make ha-down                         # stop everything, remove $HA_DIR and the namespaces
MSG
