# Shared settings for idgraph's scripts. Source it: . scripts/env.sh
# Root (CI): Debian's cluster 15/main, run by the postgres OS user through pg_ctlcluster;
# root reaches the postgres role through a pg_ident map. An ordinary user: the same
# cluster through sudo, reaching the postgres role through the same map.
set -euo pipefail
export PGVER=15
# The system install (Debian's). A private install (scripts/private-pg.sh) is chosen by
# setting PG_CONFIG, PGHOST and PGPORT before sourcing this file.
export SYSTEM_PG_CONFIG=/usr/lib/postgresql/$PGVER/bin/pg_config
export PG_CONFIG=${PG_CONFIG:-$SYSTEM_PG_CONFIG}
export PGBIN=$($PG_CONFIG --bindir)
export PGHOST=${PGHOST:-/var/run/postgresql}
export PGPORT=${PGPORT:-5432}
export PGUSER=postgres
export IDGRAPH_DB=${IDGRAPH_DB:-idgraph}
export IDGRAPH_TEST_DB=${IDGRAPH_TEST_DB:-idgraph_test}
export PATH="$HOME/.cargo/bin:$PATH"
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
export SUDO
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
