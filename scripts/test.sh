#!/usr/bin/env bash
# Every test against the real PostgreSQL. Usage: scripts/test.sh DB [stage...]
# Stages (default: all): core sqitch pgtap slo_alerts integration upgrade dump bgworker compose fuzz facade slo browser ops facade_dbdown ha
. "$(dirname "$0")/env.sh"
cd "$(dirname "$0")/.."
DB=${1:-idgraph_test}; shift || true
STAGES=${*:-core sqitch pgtap slo_alerts integration upgrade dump bgworker compose fuzz facade slo browser ops facade_dbdown ha}
TARGET="db:pg://postgres@/$DB"
export IDGRAPH_TEST_DB=$DB
failed=()
run_stage() { # name, command...
  local name=$1; shift
  log "test: $name"
  if "$@"; then log "test: $name ok"; else log "test: $name FAILED"; failed+=("$name"); fi
}
fresh_db() {
  dropdb --if-exists --force "$DB"
  createdb "$DB"
}
stage_core() { cargo test -p idgraph-core --quiet; }
stage_sqitch() {
  # The DBA's round trip: deploy+verify, verify, revert to zero, deploy again.
  fresh_db
  (cd sqitch && sqitch deploy --verify "$TARGET" && sqitch verify "$TARGET" \
     && sqitch revert -y "$TARGET" && sqitch deploy --verify "$TARGET")
}
stage_pgtap() {
  psql -qd "$DB" -c 'CREATE EXTENSION IF NOT EXISTS pgtap' >/dev/null
  pg_prove -d "$DB" --ext .sql -r tests/pgtap/
}
stage_slo_alerts() { tests/slo_alerts.sh "$DB"; }
stage_integration() { cargo test -p idgraph-itests --quiet -- --test-threads=1; }
stage_upgrade() { tests/upgrade.sh; }
stage_dump() { tests/dump_restore.sh "$DB"; }
stage_bgworker() { tests/bgworker.sh; }
stage_fuzz() { scripts/fuzz.sh; }
stage_compose() { docker-compose -f docker-compose.yml config -q; }
# The HTTPS facade, in a database of its own (its tests create roles, keys, targets):
# Rust tests over real HTTPS, then the schemathesis contract run against the binary.
FACADE_DB=${DB}_facade
facade_db() {
  if [ -z "$(psql -Atd "$FACADE_DB" -c "select 1 from pg_extension where extname='idgraph'" 2>/dev/null)" ]; then
    dropdb --if-exists --force "$FACADE_DB"
    createdb "$FACADE_DB"
    (cd sqitch && sqitch deploy --verify "db:pg://postgres@/$FACADE_DB" >/dev/null)
  fi
}
stage_facade() {
  dropdb --if-exists --force "$FACADE_DB"
  facade_db
  IDGRAPH_FACADE_TEST_DB=$FACADE_DB cargo test -p idgraph-facade --quiet -- --test-threads=1 \
    && facade/contract.sh "$FACADE_DB"
}
# sli-sync against a real Prometheus (Debian package prometheus: promtool backfills
# generated histories), then the recommendations over HTTPS checked by hand-computed tiers.
stage_slo() {
  facade_db
  IDGRAPH_FACADE_TEST_DB=$FACADE_DB cargo test -p idgraph-facade --quiet --test sli_sync -- --ignored --test-threads=1
}
# The explorer and /docs in headless Chromium, on the demo graph, in a database of its own.
stage_browser() { tests/browser.sh "${DB}_browser"; }
# Operations (ops/): the alert rules' syntax and their promtool unit tests, then a real
# Prometheus scraping the facade under load (rules answer with data, dashboard queries
# name only exported metrics), in a database of its own.
stage_ops() {
  promtool check rules ops/prometheus/*_alerts.yml \
    && promtool check config ops/prometheus/prometheus.yml >/dev/null \
    && promtool test rules ops/prometheus/tests/*.yml \
    && tests/prometheus_scrape.sh "${DB}_ops"
}
# Stops and starts the cluster under a running facade: alone, last.
stage_facade_dbdown() {
  facade_db
  IDGRAPH_FACADE_TEST_DB=$FACADE_DB cargo test -p idgraph-facade --quiet --test db_restart -- --ignored --test-threads=1
}
# Patroni, etcd and PgBouncer in network namespaces of the test's own: faults under load
# (a network cut among them), then transaction pooling, the facade behind it too.
stage_ha() { tests/ha/faults.sh; }
for s in $STAGES; do
  case $s in
    pgtap|slo_alerts|integration|dump) [ -n "$(psql -Atd "$DB" -c "select 1 from pg_extension where extname='idgraph'" 2>/dev/null)" ] || stage_sqitch ;;
  esac
  run_stage "$s" "stage_$s"
done
if [ ${#failed[@]} -gt 0 ]; then
  log "FAILED stages: ${failed[*]}"
  exit 1
fi
log "all test stages passed: $STAGES"
