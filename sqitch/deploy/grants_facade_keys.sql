-- Deploy idgraph:grants_facade_keys to pg
-- requires: extension_idgraph_0_2_0 grants_facade
-- Key rotation (idgraph 0.2.0: `idgraph-facade keys rotate`) is key management: admins only.
BEGIN;
GRANT EXECUTE ON FUNCTION idgraph.api_key_rotate(text, text, text, interval, timestamptz) TO idgraph_admin;
COMMIT;
