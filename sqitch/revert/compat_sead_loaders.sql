-- Revert idgraph:compat_sead_loaders
BEGIN;
DROP VIEW IF EXISTS sead_utility.identity_allocations;
DROP FUNCTION IF EXISTS
  sead_utility._identity_allocations_begin(),
  sead_utility._identity_allocations_stage(),
  sead_utility._identity_allocations_apply(),
  sead_utility.allocate_system_id(text, text, text, text, text, jsonb),
  sead_utility.submission_uuid(text);
REVOKE ALL ON FUNCTION idgraph.named_submission_uuid(text) FROM idgraph_reader;
REVOKE ALL ON FUNCTION idgraph.ensure_named_submission(text, text, text, text) FROM idgraph_writer;
COMMIT;
