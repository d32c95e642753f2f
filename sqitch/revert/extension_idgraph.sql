-- Revert idgraph:extension_idgraph
-- CASCADE: the per-target allocation sequences in idgraph_alloc are created after the
-- extension and are not its members.
BEGIN;
DROP EXTENSION IF EXISTS idgraph CASCADE;
DROP SCHEMA IF EXISTS idgraph_alloc CASCADE;
COMMIT;
