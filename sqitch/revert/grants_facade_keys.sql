-- Revert idgraph:grants_facade_keys from pg
BEGIN;
REVOKE ALL ON FUNCTION idgraph.api_key_rotate(text, text, text, interval, timestamptz) FROM idgraph_admin;
COMMIT;
