# Shared settings for idgraph's scripts. Source it: . scripts/env.sh
# Root (CI): Debian's cluster 15/main, run by the postgres OS user through pg_ctlcluster;
# root reaches the postgres role through a pg_ident map. An ordinary user: the same
# cluster through sudo, reaching the postgres role through the same map.
set -euo pipefail
export PGVER=15
export PG_CONFIG=/usr/lib/postgresql/$PGVER/bin/pg_config
export PGBIN=/usr/lib/postgresql/$PGVER/bin
export PGHOST=/var/run/postgresql
export PGPORT=5432
export PGUSER=postgres
export IDGRAPH_DB=${IDGRAPH_DB:-idgraph}
export IDGRAPH_TEST_DB=${IDGRAPH_TEST_DB:-idgraph_test}
export PATH="$HOME/.cargo/bin:$PATH"
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
export SUDO
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
