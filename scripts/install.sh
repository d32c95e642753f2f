#!/usr/bin/env bash
# Builds idgraph (release) and installs it into the local PostgreSQL 15, with the
# hand-written upgrade scripts beside the generated install script.
. "$(dirname "$0")/env.sh"
cd "$(dirname "$0")/.."
# One build/install at a time (several engineers, or make targets, may run at once).
exec 9>/tmp/idgraph-install.lock
flock 9
log "building and installing the idgraph extension (release)"
if [ -z "$SUDO" ]; then
  (cd pg_ext && cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null)
else
  (cd pg_ext && cargo pgrx install --release --sudo --pg-config "$PG_CONFIG" >/dev/null)
fi
EXTDIR=$($PG_CONFIG --sharedir)/extension
for f in sql/idgraph--*--*.sql; do
  [ -e "$f" ] && $SUDO install -m 644 "$f" "$EXTDIR/"
done
log "installed: $(ls "$EXTDIR"/idgraph*.control)"
