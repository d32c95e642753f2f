#!/usr/bin/env bash
# Developer shortcut: regenerate only the extension's SQL (when no Rust changed) and
# install it over the current one. `make install` is the real thing.
. "$(dirname "$0")/env.sh"
# One build/install at a time (several engineers, or make targets, may run at once).
exec 9>/tmp/idgraph-install.lock
flock 9
cd "$(dirname "$0")/../pg_ext"
cargo pgrx schema pg$PGVER --pg-config "$PG_CONFIG" -o /tmp/idgraph-dev.sql >/dev/null 2>&1
$SUDO install -m 644 /tmp/idgraph-dev.sql "$($PG_CONFIG --sharedir)/extension/idgraph--$(grep -m1 "^version" ../Cargo.toml | cut -d\" -f2).sql"
