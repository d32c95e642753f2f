-- Revert idgraph:grants_submission_expiry
BEGIN;
REVOKE ALL ON FUNCTION idgraph.expired_submissions(interval), idgraph.expire_submissions(interval, integer)
  FROM idgraph_admin;
REVOKE ALL ON FUNCTION idgraph.submission_expiry_status() FROM idgraph_reader;
COMMIT;
