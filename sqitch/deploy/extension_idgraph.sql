-- Deploy idgraph:extension_idgraph
BEGIN;
CREATE EXTENSION IF NOT EXISTS idgraph;
COMMIT;
