#!/usr/bin/env bash
# A private PostgreSQL 15 of your own: a relocated copy of Debian's install (so an
# extension built here goes into its lib/ and share/, never the system's) and a cluster
# on its own port and socket. For developers working side by side on one machine, and for
# tests that must install another build of idgraph (tests/upgrade.sh).
#
#   scripts/private-pg.sh start DIR PORT   create if absent, start; prints the env to use
#   scripts/private-pg.sh stop DIR         stop (fast)
#   scripts/private-pg.sh env DIR PORT     print the env lines only
#
# Then: eval "$(scripts/private-pg.sh env DIR PORT)"; make install; make test-pgtap ...
# Peer authentication on the socket as everywhere (root and the postgres OS user reach the
# postgres role through an ident map); TCP on 127.0.0.1 with scram-sha-256.
set -euo pipefail
PGVER=15
cmd=${1:?usage: private-pg.sh start|stop|env DIR [PORT]}
DIR=$(realpath -m "${2:?DIR}")
PORT=${3:-}
PGC="$DIR/usr/lib/postgresql/$PGVER/bin/pg_config"
env_lines() {
  echo "export PG_CONFIG=$PGC PGHOST=$DIR/run PGPORT=$PORT PGUSER=postgres"
}
RUNAS="runuser -u postgres --"
[ "$(id -un)" = postgres ] && RUNAS=""
case $cmd in
  env) env_lines ;;
  stop)
    [ -f "$DIR/data/postmaster.pid" ] && $RUNAS "$DIR/usr/lib/postgresql/$PGVER/bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true ;;
  start)
    : "${PORT:?PORT}"
    if [ ! -x "$PGC" ]; then
      mkdir -p "$DIR/usr/lib/postgresql" "$DIR/usr/share/postgresql" "$DIR/usr/include"
      cp -a /usr/lib/postgresql/$PGVER "$DIR/usr/lib/postgresql/"
      cp -a /usr/share/postgresql/$PGVER "$DIR/usr/share/postgresql/"
      ln -sfn /usr/include/postgresql "$DIR/usr/include/postgresql"
      # pgTAP and other extensions installed since are in the copy; the copy's own
      # extension directory is where `make install` puts idgraph.
    fi
    [ "$("$PGC" --pkglibdir)" = "$DIR/usr/lib/postgresql/$PGVER/lib" ] \
      || { echo "private-pg: $PGC does not relocate" >&2; exit 1; }
    mkdir -p "$DIR/run"
    chown postgres "$DIR" "$DIR/run"
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
      $RUNAS "$DIR/usr/lib/postgresql/$PGVER/bin/initdb" -D "$DIR/data" -U postgres \
        --auth-local=peer --auth-host=scram-sha-256 >/dev/null
      cat >> "$DIR/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR/run'
max_connections = 200
CONF
      sed -i 's/^local[[:space:]]\+all[[:space:]]\+all[[:space:]]\+peer$/local all all peer map=idgraph/' "$DIR/data/pg_hba.conf"
      printf 'idgraph root postgres\nidgraph postgres postgres\n' >> "$DIR/data/pg_ident.conf"
      [ -n "${SUDO_USER:-}" ] && echo "idgraph $SUDO_USER postgres" >> "$DIR/data/pg_ident.conf"
    fi
    if ! $RUNAS "$DIR/usr/lib/postgresql/$PGVER/bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
      $RUNAS "$DIR/usr/lib/postgresql/$PGVER/bin/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w start >/dev/null
    fi
    env_lines ;;
  *) echo "usage: private-pg.sh start|stop|env DIR [PORT]" >&2; exit 2 ;;
esac
