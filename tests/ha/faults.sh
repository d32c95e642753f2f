#!/usr/bin/env bash
# Stage `ha` of scripts/test.sh (also `make test-ha`): faults under load on the Patroni
# cluster (tests/ha/up.sh) — the primary killed, a switchover, a replica lost — then
# PgBouncer in transaction pooling (tests/ha/pgbouncer.sh). Uses a cluster that is
# already up (make ha-up) and leaves it; otherwise brings one up and removes it after.
# Usage: tests/ha/faults.sh [kill|switchover|replica...] | --setup-only (role and target)
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
started=""
if ! { [ -d "$HA_DIR" ] && ha_wait_healthy 2 3; }; then
  tests/ha/up.sh >/dev/null
  started=1
fi
cleanup() { [ -n "$started" ] && tests/ha/down.sh >/dev/null 2>&1; return 0; }
trap cleanup EXIT
L=$(ha_leader)
# The test's own target and LOGIN role (a writer, never a superuser), made idempotently.
grep -q '^\*:\*:\*:ha_writer:' "$PGPASSFILE" || echo "*:*:*:ha_writer:$(openssl rand -hex 16)" >> "$PGPASSFILE"
WPW=$(grep '^\*:\*:\*:ha_writer:' "$PGPASSFILE" | cut -d: -f5)
ha_psql "$L" -d "$HA_DB" -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ha_writer') THEN CREATE ROLE ha_writer LOGIN; END IF;
END \$\$;
ALTER ROLE ha_writer LOGIN NOSUPERUSER PASSWORD '$WPW';
GRANT idgraph_writer TO ha_writer;
CREATE SCHEMA IF NOT EXISTS ha;
GRANT USAGE ON SCHEMA ha TO idgraph_reader;
CREATE TABLE IF NOT EXISTS ha.tbl_items (item_id serial PRIMARY KEY);
SELECT count(*) FROM idgraph.register_target('ha.tbl_items', 'item_id')
 WHERE NOT EXISTS (SELECT 1 FROM idgraph.targets WHERE table_oid = 'ha.tbl_items'::regclass);
SQL
if [ "${1:-}" = --setup-only ]; then started=""; exit 0; fi
rc=0
timeout 300 /usr/bin/python3 tests/ha/faults.py "$@" || rc=1
tests/ha/pgbouncer.sh || rc=1
exit $rc
