#!/usr/bin/env bash
# `make run`: deploy idgraph into database $1 with sqitch and load a small demo.
. "$(dirname "$0")/env.sh"
cd "$(dirname "$0")/.."
DB=${1:-idgraph}
createdb "$DB" 2>/dev/null || true
log "sqitch deploy --verify into $DB"
(cd sqitch && sqitch deploy --verify "db:pg://postgres@/$DB")
log "loading the demo"
psql -qd "$DB" -v ON_ERROR_STOP=1 -f scripts/demo.sql
cat <<MSG

idgraph is running in database '$DB' (PostgreSQL $PGVER, socket $PGHOST).

Connect:    psql -h $PGHOST -U postgres -d $DB      (as root: the pg_ident map lets you in)
Try:
  SELECT * FROM idgraph.targets();
  SELECT * FROM idgraph.submission((SELECT submission_id FROM idgraph.submissions WHERE submission_name = 'demo-sites-1'));
  SELECT * FROM idgraph.allocate(idgraph.create_submission('my-run-' || now()::text, 'me', 'sites'),
                                 'demo.tbl_sites', 'site_id', gen_random_uuid()::text);
  SELECT * FROM idgraph.resolve('demo.tbl_sites', 'site_id', 'a3e4f567-e89b-12d3-a456-426614174001');
  SELECT idgraph.verify_audit();
MSG
