-- idgraph 0.1.0 -> 0.2.0. Run by ALTER EXTENSION idgraph UPDATE TO '0.2.0' (sqitch change
-- extension_idgraph_0_2_0 does it for DBAs). Every change to the extension's SQL since
-- 0.1.0 is here, in the same order as in the fresh install, with the rows of any table
-- whose layout changes carried across; tests/upgrade.sh proves the result equals a fresh
-- 0.2.0 install, row for row. One section per concern, each headed by its sql/ file.
\echo Use "ALTER EXTENSION idgraph UPDATE TO '0.2.0'" to load this file. \quit
