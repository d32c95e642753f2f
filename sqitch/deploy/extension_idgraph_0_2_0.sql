-- Deploy idgraph:extension_idgraph_0_2_0: bring the extension to release 0.2.0.
-- On a database deployed at 0.1.0 this runs sql/idgraph--0.1.0--0.2.0.sql (ALTER EXTENSION
-- UPDATE, in this transaction: all or nothing); on one whose extension_idgraph created
-- 0.2.0 directly it is a no-op. Install the 0.2.0 build (make install) first.
BEGIN;
ALTER EXTENSION idgraph UPDATE TO '0.2.0';
COMMIT;
