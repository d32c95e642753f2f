-- Deploy idgraph:compat_sead_utility
BEGIN;
\ir ../../sql/compat_sead_utility.sql
COMMIT;
