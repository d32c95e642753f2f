#!/usr/bin/env bash
# The 0.1.0 -> 0.2.0 upgrade, as a DBA does it, on a throwaway PostgreSQL of its own
# (scripts/private-pg.sh: a relocated copy of the system's, so that installing another
# build of idgraph never touches the shared cluster):
#  1. build every older release from the commit RELEASES records (a git tag may not
#     travel with a clone; the build is kept under target/upgrade/ for the next run);
#  2. deploy it with that release's own sqitch plan and fill every table through its own
#     functions (tests/upgrade/fill-FROM.sql);
#  3. install the current build and `sqitch deploy` the current plan: its change
#     extension_idgraph_0_2_0 runs ALTER EXTENSION idgraph UPDATE;
#  4. prove: the extension's objects equal a fresh sqitch deploy of the current release
#     (tests/upgrade/describe.sql: definitions, columns in order, privileges, comments,
#     indexes, triggers...), every row of every table survived (count and digest per
#     table over the old columns, compared by meaning: tests/upgrade/meaning-FROM.tsv
#     maps a table whose layout changed), every sequence kept its position,
#     verify_audit() is true, sqitch verify passes, reverting the upgrade refuses with
#     0A000, and the pgTAP suite passes on the upgraded database.
. "$(dirname "$0")/../scripts/env.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
current=$(grep -m1 '^version' Cargo.toml | cut -d'"' -f2)
PORT=${UPGRADE_PORT:-5496}
mapfile -t releases < <(grep -vE '^\s*(#|$)' RELEASES | awk '{print $1" "$2}')
[ ${#releases[@]} -gt 0 ] || { log "upgrade: RELEASES lists no release"; exit 1; }
SCR=$(mktemp -d /tmp/idgraph-upgrade.XXXXXX)
chmod 755 "$SCR"
cleanup() { scripts/private-pg.sh stop "$SCR/pg" >/dev/null 2>&1 || true; rm -rf "$SCR"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
passed=0
ok() { passed=$((passed + 1)); echo "ok $passed - $*"; }

# 1. Build each older release (debug profile, its own target dir: faster than release,
# and it never touches the current build's artefacts).
build_release() { # version commit -> $ROOT/target/upgrade/VERSION/{pkg,sqitch}
  local v=$1 c=$2 out=$ROOT/target/upgrade/$1
  if [ -f "$out/built" ] && [ "$(cat "$out/built")" = "$c" ]; then return; fi
  git cat-file -e "$c^{commit}" 2>/dev/null || fail "release $v: commit $c is not in this clone"
  log "upgrade: building release $v from $c"
  rm -rf "$out"; mkdir -p "$out"
  local src=$out/src
  git worktree add -q --detach "$src" "$c"
  (cd "$src/pg_ext" && CARGO_TARGET_DIR=$ROOT/target/upgrade/target \
     cargo pgrx package --debug --pg-config "$SYSTEM_PG_CONFIG" --out-dir "$out/pkg" >/dev/null)
  # The plan includes files of sql/ by relative path (../sql/...): keep both.
  cp -a "$src/sqitch" "$out/sqitch"; cp -a "$src/sql" "$out/sql"
  git worktree remove --force "$src"
  echo "$c" > "$out/built"
}
install_pkg() { # package dir -> the private install
  install -m 755 "$1$($SYSTEM_PG_CONFIG --pkglibdir)/idgraph.so" "$($PG_CONFIG --pkglibdir)/"
  install -m 644 "$1$($SYSTEM_PG_CONFIG --sharedir)"/extension/idgraph* "$($PG_CONFIG --sharedir)/extension/"
}

for rel in "${releases[@]}"; do
  from=${rel%% *}; commit=${rel##* }
  [ "$from" = "$current" ] && continue
  [ -f "sql/idgraph--$from--$current.sql" ] || fail "no upgrade script sql/idgraph--$from--$current.sql"
  build_release "$from" "$commit"
  # A failed start prints no env lines: never carry on with the system's PG_CONFIG and
  # socket (that would install builds into, and deploy on, the shared cluster).
  envl=$(scripts/private-pg.sh start "$SCR/pg" "$PORT") || fail "the private cluster did not start on port $PORT (in use?)"
  eval "$envl"
  [ "$PG_CONFIG" != "$SYSTEM_PG_CONFIG" ] && [ "$PGPORT" = "$PORT" ] || fail "not on the private cluster"
  P="psql -X -q -v ON_ERROR_STOP=1"
  install_pkg "$ROOT/target/upgrade/$from/pkg"
  for db in upgraded fresh; do dropdb --if-exists "$db"; createdb "$db"; done

  # 2. The old release, deployed and filled.
  (cd "$ROOT/target/upgrade/$from/sqitch" && sqitch deploy --verify "db:pg://postgres@/upgraded" >/dev/null)
  [ "$(psql -XAtd upgraded -c "SELECT extversion FROM pg_extension WHERE extname = 'idgraph'")" = "$from" ] \
    || fail "the old release did not install as $from"
  $P -d upgraded -f "tests/upgrade/fill-$from.sql" >/dev/null
  # Every table of the old release holds rows.
  empty=""
  for t in $(psql -XAtd upgraded -c "SELECT c.oid::regclass FROM pg_class c
               WHERE c.relnamespace = 'idgraph'::regnamespace AND c.relkind = 'r'"); do
    [ "$(psql -XAtd upgraded -c "SELECT count(*) FROM $t")" -gt 0 ] || empty="$empty $t"
  done
  [ -z "$empty" ] || fail "the fill left tables of $from empty: $empty"
  ok "release $from deployed by its own sqitch plan, every table filled"
  # verify_audit() seals, so it runs before the rows are recorded.
  psql -XAtd upgraded -c "SELECT idgraph.verify_audit()" | grep -qx t || fail "verify_audit() false before the upgrade"
  # What the rows mean, before: per table its columns (as they were), count and digest.
  psql -XAtd upgraded -F $'\t' -c "SELECT c.oid::regclass, string_agg(format('%I::text', a.attname), ', ' ORDER BY a.attnum)
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relnamespace = 'idgraph'::regnamespace AND c.relkind IN ('r', 'p') GROUP BY 1 ORDER BY 1" > "$SCR/columns.tsv"
  meaning=tests/upgrade/meaning-$from.tsv
  digest() { # db table select-list [from-expression]
    psql -XAtd "$1" -c "SELECT count(*) || ' ' || md5(coalesce(string_agg(r::text, E'\n' ORDER BY r::text), ''))
                          FROM (SELECT $3 FROM ${4:-$2}) r"
  }
  : > "$SCR/before.txt"
  while IFS=$'\t' read -r tbl cols; do
    echo "$tbl $(digest upgraded "$tbl" "$cols")" >> "$SCR/before.txt"
  done < "$SCR/columns.tsv"
  seqs() { psql -XAtd "$1" -c "SELECT c.oid::regclass || ' ' || (pg_sequence_last_value(c.oid))::text FROM pg_class c
             WHERE c.relkind = 'S' AND c.relnamespace IN ('idgraph'::regnamespace, 'idgraph_alloc'::regnamespace) ORDER BY 1"; }
  seqs upgraded > "$SCR/seq-before.txt"

  # 3. The current build, and the DBA's upgrade: sqitch deploy of the current plan.
  scripts/install.sh >/dev/null
  scripts/private-pg.sh stop "$SCR/pg" >/dev/null; scripts/private-pg.sh start "$SCR/pg" "$PORT" >/dev/null
  (cd sqitch && sqitch deploy --verify "db:pg://postgres@/upgraded" >/dev/null) || fail "sqitch deploy did not upgrade"
  [ "$(psql -XAtd upgraded -c "SELECT extversion FROM pg_extension WHERE extname = 'idgraph'")" = "$current" ] \
    || fail "after sqitch deploy the extension is not at $current"
  ok "sqitch deploy of the current plan upgraded $from to $current"
  (cd sqitch && sqitch deploy --verify "db:pg://postgres@/fresh" >/dev/null)
  [ "$(psql -XAtd fresh -c "SELECT version FROM idgraph.releases WHERE upgraded_from IS NULL")" = "$current" ] \
    || fail "a fresh install's idgraph.releases does not say $current (update sql/releases.sql)"

  # 4. Same objects as a fresh install.
  psql -XAtd upgraded -v ON_ERROR_STOP=1 -f tests/upgrade/describe.sql > "$SCR/upgraded.schema"
  psql -XAtd fresh -v ON_ERROR_STOP=1 -f tests/upgrade/describe.sql > "$SCR/fresh.schema"
  [ -s "$SCR/fresh.schema" ] || fail "describe.sql printed nothing"
  if ! diff -u "$SCR/fresh.schema" "$SCR/upgraded.schema" > "$SCR/schema.diff"; then
    head -100 "$SCR/schema.diff"; fail "the upgraded schema differs from a fresh $current install (- fresh, + upgraded)"
  fi
  ok "the upgraded extension equals a fresh $current install ($(wc -l < "$SCR/fresh.schema") facts)"
  # Every row survived, by meaning.
  : > "$SCR/after.txt"
  while IFS=$'\t' read -r tbl cols; do
    over=$( [ -f "$meaning" ] && awk -F'\t' -v t="$tbl" '$1 == t {print $2 "\t" $3}' "$meaning" || true)
    if [ -n "$over" ]; then
      echo "$tbl $(digest upgraded "$tbl" "$cols" "${over#*$'\t'}")" >> "$SCR/after.txt"
    else
      echo "$tbl $(digest upgraded "$tbl" "$cols")" >> "$SCR/after.txt"
    fi
  done < "$SCR/columns.tsv"
  diff -u "$SCR/before.txt" "$SCR/after.txt" || fail "rows changed in the upgrade (table, count, digest)"
  ok "every row of $(wc -l < "$SCR/columns.tsv") tables survived ($(awk '{s += $2} END {print s}' "$SCR/before.txt") rows, count and digest per table)"
  # Sequences the upgrade made (a new serial column) are new, not moved: only those that
  # existed before are compared, each by its exact name.
  seqs upgraded | awk 'NR == FNR { had[$1] = 1; next } ($1 in had)' "$SCR/seq-before.txt" - > "$SCR/seq-after.txt"
  diff -u "$SCR/seq-before.txt" "$SCR/seq-after.txt" || fail "a sequence moved in the upgrade"
  ok "every sequence kept its position ($(wc -l < "$SCR/seq-before.txt"))"
  psql -XAtd upgraded -c "SELECT idgraph.verify_audit()" | grep -qx t || fail "verify_audit() false after the upgrade"
  ok "verify_audit() is true after the upgrade"
  (cd sqitch && sqitch verify "db:pg://postgres@/upgraded" >/dev/null) || fail "sqitch verify failed on the upgraded database"
  ok "sqitch verify passes on the upgraded database"
  out=$(cd sqitch && sqitch revert -y --to extension_idgraph "db:pg://postgres@/upgraded" 2>&1 || true)
  echo "$out" | grep -q "cannot be downgraded" || { echo "$out"; fail "reverting the upgrade did not refuse"; }
  [ "$(psql -XAtd upgraded -c "SELECT extversion FROM pg_extension WHERE extname = 'idgraph'")" = "$current" ] \
    || fail "the refused revert changed the extension"
  (cd sqitch && sqitch deploy "db:pg://postgres@/upgraded" >/dev/null)
  ok "sqitch revert of the upgrade refuses (0A000) and leaves $current in place"
  # The pgTAP suite on the upgraded database.
  psql -Xqd upgraded -c 'CREATE EXTENSION IF NOT EXISTS pgtap' >/dev/null
  pg_prove -d upgraded --ext .sql -r tests/pgtap/ > "$SCR/pgtap.out" 2>&1 || { tail -40 "$SCR/pgtap.out"; fail "pgTAP fails on the upgraded database"; }
  ok "the pgTAP suite passes on the upgraded database ($(grep -o 'Tests=[0-9]*' "$SCR/pgtap.out"))"
  scripts/private-pg.sh stop "$SCR/pg" >/dev/null
  rm -rf "$SCR/pg"
done
echo "$passed passed, 0 failed"
