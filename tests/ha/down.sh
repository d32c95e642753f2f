#!/usr/bin/env bash
# `make ha-down`: stops everything tests/ha/up.sh (and the fault tests) started, by the
# pids they recorded, and removes $HA_DIR and the network namespaces.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then exec sudo -E "$0" "$@"; fi
[ -d "$HA_DIR" ] || { log "no HA cluster in $HA_DIR"; ha_net_down; exit 0; }
pids() { # pid files -> live pids
  local f p
  for f in "$@"; do
    [ -f "$f" ] || continue
    p=$(head -1 "$f"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
  done
  return 0
}
stop() { # signal, wait seconds, pid files...
  local sig=$1 secs=$2; shift 2
  local ps; ps=$(pids "$@")
  [ -z "$ps" ] && return 0
  kill "-$sig" $ps 2>/dev/null || true
  for _ in $(seq 1 $((secs * 5))); do [ -z "$(pids "$@")" ] && return 0; sleep 0.2; done
  ps=$(pids "$@"); [ -n "$ps" ] && kill -KILL $ps 2>/dev/null || true
  return 0
}
log "stopping the HA cluster in $HA_DIR"
stop TERM 5 "$HA_DIR"/*.client.pid "$HA_DIR"/pgbouncer/pgbouncer.pid
# Patroni stops its PostgreSQL on SIGTERM; a postmaster left behind (Patroni killed)
# is stopped through its own postmaster.pid.
stop TERM 20 "$HA_DIR"/node*/patroni.pid
stop QUIT 5 "$HA_DIR"/node*/data/postmaster.pid
stop TERM 5 "$HA_DIR/etcd.pid"
rm -rf "$HA_DIR"
ha_net_down
log "HA cluster removed"
