#!/usr/bin/env bash
# Builds idgraph (release) and installs it into the local PostgreSQL 15, with the
# hand-written upgrade scripts beside the generated install script.
. "$(dirname "$0")/env.sh"
cd "$(dirname "$0")/.."
# One build/install at a time (several engineers, or make targets, may run at once).
exec 9>/tmp/idgraph-install.lock
flock 9
log "building and installing the idgraph extension (release)"
EXTDIR=$($PG_CONFIG --sharedir)/extension
if [ "$PG_CONFIG" = "$SYSTEM_PG_CONFIG" ]; then
  if [ -z "$SUDO" ]; then
    (cd pg_ext && cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null)
  else
    (cd pg_ext && cargo pgrx install --release --sudo --pg-config "$PG_CONFIG" >/dev/null)
  fi
else
  # A private install (scripts/private-pg.sh): build against the system headers (one
  # build for both), then copy the package into the private lib/ and share/.
  out=$(realpath -m "${CARGO_TARGET_DIR:-target}/pgrx-package")
  (cd pg_ext && cargo pgrx package --pg-config "$SYSTEM_PG_CONFIG" --out-dir "$out" >/dev/null)
  $SUDO install -m 755 "$out$($SYSTEM_PG_CONFIG --pkglibdir)"/idgraph.so "$($PG_CONFIG --pkglibdir)/"
  $SUDO install -m 644 "$out$($SYSTEM_PG_CONFIG --sharedir)"/extension/idgraph* "$EXTDIR/"
fi
for f in sql/idgraph--*--*.sql; do
  [ -e "$f" ] && $SUDO install -m 644 "$f" "$EXTDIR/"
done
log "installed: $(ls "$EXTDIR"/idgraph*.control)"
