#!/usr/bin/env bash
# Installs what is missing and brings up PostgreSQL 15 with idgraph installed.
# Idempotent: every step checks before it acts. Usage: scripts/setup.sh [--no-install]
. "$(dirname "$0")/env.sh"
cd "$(dirname "$0")/.."

APT_PKGS="build-essential pkg-config libssl-dev postgresql-15 postgresql-server-dev-15 libclang-dev clang
 sudo sqitch libdbd-pg-perl postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl docker-compose
 openssl curl python3-venv chromium prometheus"
missing=""
for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
# The facade's pages: npm installs their packages (facade/build.rs), the browser test
# drives Debian's chromium. Debian 12's nodejs is 18 (playwright-core is pinned to a
# release that supports it); a newer node already on PATH (with its own npm) is kept.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
  log "installing Debian packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
# Stage ops: a real Prometheus, promtool, the PostgreSQL exporter, jq. Without recommends:
# prometheus recommends a node exporter nothing here uses.
OPS_PKGS="prometheus prometheus-postgres-exporter jq"
missing=""
for p in $OPS_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  log "installing Debian packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ "$(cargo pgrx --version 2>/dev/null)" != "cargo-pgrx 0.18.1" ]; then
  log "installing cargo-pgrx 0.18.1 (about 6 minutes the first time)"
  cargo install cargo-pgrx --version =0.18.1 --locked
fi
# Re-running init forces a rebuild of pgrx-pg-sys, so only when it has not been done.
if ! grep -qs "pg$PGVER = \"$PG_CONFIG\"" "$HOME/.pgrx/config.toml"; then
  log "cargo pgrx init --pg$PGVER"
  cargo pgrx init --pg$PGVER "$PG_CONFIG"
fi

# Cluster: create if absent, let root (and the invoking user) in as role postgres by
# peer authentication with an ident map (never trust).
if ! pg_lsclusters -h | awk '{print $1"/"$2}' | grep -qx "$PGVER/main"; then
  log "creating cluster $PGVER/main"
  $SUDO pg_createcluster $PGVER main
fi
HBA=/etc/postgresql/$PGVER/main/pg_hba.conf
IDENT=/etc/postgresql/$PGVER/main/pg_ident.conf
ME=$(id -un)
if ! $SUDO grep -q "map=idgraph" "$HBA"; then
  log "pg_hba: local peer map=idgraph for role postgres"
  $SUDO sed -i '0,/^local[[:space:]]\+all[[:space:]]\+postgres/s//local   all             postgres                                peer map=idgraph\n#&/' "$HBA"
  $SUDO grep -q "map=idgraph" "$HBA" || { echo "could not edit $HBA" >&2; exit 1; }
fi
for u in postgres "$ME"; do
  $SUDO grep -qE "^idgraph[[:space:]]+$u[[:space:]]+postgres" "$IDENT" || echo "idgraph $u postgres" | $SUDO tee -a "$IDENT" >/dev/null
done
# Make the extension's background worker available when preloaded is opt-in; nothing here.
if ! pg_lsclusters -h | awk -v c="$PGVER main" '$1" "$2==c {print $4}' | grep -q online; then
  log "starting cluster $PGVER/main"
  $SUDO pg_ctlcluster $PGVER main start
elif $SUDO readlink "/proc/$($SUDO head -1 "/var/run/postgresql/$PGVER-main.pid")/exe" 2>/dev/null | grep -q '(deleted)'; then
  # The packages above upgraded PostgreSQL under a running server: its old binary would
  # fail to load the new libraries (plpgsql.so: undefined symbol), so restart it.
  log "restarting cluster $PGVER/main (its binary was upgraded)"
  $SUDO pg_ctlcluster $PGVER main restart
else
  $SUDO pg_ctlcluster $PGVER main reload
fi
for _ in $(seq 1 30); do pg_isready -q && break; sleep 1; done

if [ "${1:-}" != "--no-install" ]; then
  scripts/install.sh
fi
