-- Deploy idgraph:compat_sead_loaders
-- SEAD's legacy allocator sead_utility.allocate_system_id (Shape Shifter) and the COPY
-- door sead_utility.identity_allocations (seed 000 §1.4), with their grants.
BEGIN;
\ir ../../sql/compat_sead_loaders.sql
COMMIT;
