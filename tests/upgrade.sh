#!/usr/bin/env bash
# Extension upgrade harness. For every hand-written upgrade script
# sql/idgraph--FROM--TO.sql it builds release FROM (git tag vFROM) in a worktree,
# installs it, creates the extension at FROM in a scratch database, installs the current
# build and runs ALTER EXTENSION idgraph UPDATE TO 'TO', then compares the schema with a
# fresh CREATE EXTENSION at TO. With no upgrade scripts yet (first release) it says so.
. "$(dirname "$0")/../scripts/env.sh"
cd "$(dirname "$0")/.."
shopt -s nullglob
scripts=(sql/idgraph--*--*.sql)
if [ ${#scripts[@]} -eq 0 ]; then
  log "upgrade: no upgrade scripts yet (first release $(grep -m1 '^version' Cargo.toml | cut -d'"' -f2)); nothing to test"
  exit 0
fi
current=$(grep -m1 '^version' Cargo.toml | cut -d'"' -f2)
for s in "${scripts[@]}"; do
  base=$(basename "$s" .sql); from=${base#idgraph--}; from=${from%%--*}; to=${base##*--}
  [ "$to" = "$current" ] || continue
  wt=$(mktemp -d)
  git worktree add -q "$wt" "v$from"
  (cd "$wt/pg_ext" && cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null)
  git worktree remove --force "$wt"
  scripts/install.sh
  for db in idgraph_upgrade_old idgraph_upgrade_new; do dropdb --if-exists "$db"; createdb "$db"; done
  psql -qd idgraph_upgrade_old -v ON_ERROR_STOP=1 -c "CREATE EXTENSION idgraph VERSION '$from'" \
    -c "ALTER EXTENSION idgraph UPDATE TO '$to'"
  psql -qd idgraph_upgrade_new -v ON_ERROR_STOP=1 -c "CREATE EXTENSION idgraph VERSION '$to'"
  diff <(pg_dump -s idgraph_upgrade_old | grep -v '^--') <(pg_dump -s idgraph_upgrade_new | grep -v '^--')
  log "upgrade $from -> $to: schema identical to a fresh install"
done
