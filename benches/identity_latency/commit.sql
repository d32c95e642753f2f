-- Commit this client's next prepared submission of :size allocations. pgbench keeps a
-- client's variables across its transactions: k counts this client's commits (-D k=0), so
-- client c commits submissions base+c*per+1 .. base+c*per+per, each exactly once.
\set k :k + 1
\set n :base + :client_id * :per + :k
SELECT * FROM idgraph.commit_submission((SELECT s.sub FROM bench_commit_subs s WHERE s.n = :n));
