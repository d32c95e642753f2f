-- Deploy idgraph:grants_submission_expiry
-- Listing and expiring stale pending submissions is the admins' (and the background
-- worker's, which runs as the bootstrap superuser); the counts for /metrics are readers'.
BEGIN;
GRANT EXECUTE ON FUNCTION idgraph.expired_submissions(interval), idgraph.expire_submissions(interval, integer)
  TO idgraph_admin;
GRANT EXECUTE ON FUNCTION idgraph.submission_expiry_status() TO idgraph_reader;
COMMIT;
