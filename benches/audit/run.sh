#!/usr/bin/env bash
# Audit seal bench (issue 9: "seal_audit() / verify_audit() cost grows with the rows since
# the last seal"). Run by benches/run.sh (make bench), never by make test.
#
# In a fresh database (dropped and re-created, CREATE EXTENSION idgraph):
#   1. fill idgraph.audit_log with BENCH_AUDIT_ROWS rows, set-based, BENCH_AUDIT_CHUNK rows
#      per transaction (the row-hash trigger runs as for every audit row), VACUUM ANALYZE,
#      and seal them (the first seal reads everything: it has no previous seal);
#   2. BENCH_AUDIT_RUNS times, alternating: add BENCH_AUDIT_NEW rows in one transaction, then
#      seal them with idgraph.seal_audit() (bounded by txid, audit_log_txid_idx) or with
#      bench_seal_full(), today's 0.1.0 body (full scan) — both chain the same seals;
#   3. verify_audit() once (a full re-hash: it stays proportional to the whole table);
#   4. the index's cost: its size per row here and on distinct txids (one per call, the
#      worst case), and the time it adds per inserted row.
# The figures go between the audit-bench markers in benches/README.md.
#
# Settings (environment): BENCH_AUDIT_DB (idgraph_bench_audit; dropped and re-created),
# BENCH_AUDIT_ROWS (10000000), BENCH_AUDIT_CHUNK (10000), BENCH_AUDIT_NEW (10000),
# BENCH_AUDIT_RUNS (6), BENCH_README (benches/README.md).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/scripts/env.sh"

DB=${BENCH_AUDIT_DB:-idgraph_bench_audit}
ROWS=${BENCH_AUDIT_ROWS:-10000000}
CHUNK=${BENCH_AUDIT_CHUNK:-10000}
NEW=${BENCH_AUDIT_NEW:-10000}
RUNS=${BENCH_AUDIT_RUNS:-6}
README=${BENCH_README:-$ROOT/benches/README.md}
case "$DB" in *bench*) ;; *) echo "BENCH_AUDIT_DB=$DB must contain 'bench' (it is dropped)" >&2; exit 2 ;; esac

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$DB")
ms() { # SQL -> milliseconds of its last statement (psql \timing)
  "${PSQL[@]}" -At -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}
fill() { # rows chunk: set-based, one transaction per chunk (one txid per chunk)
  "${PSQL[@]}" -c "DO \$\$ BEGIN
    FOR i IN 0 .. ($1 - 1) / $2 LOOP
      INSERT INTO idgraph.audit_log (actor, action, submission_id, target_id, external_id,
                                     alloc_integer_id, is_new, n_total, n_new, sysid)
      SELECT 'bench', 'allocate', '00000000-0000-0000-0000-000000000001', 1, 'ext-' || g, g, true, 1, 1,
             idgraph._system_identifier()
        FROM generate_series(i * $2 + 1, least(($1)::bigint, (i + 1) * $2)) g;
      COMMIT;
    END LOOP; END \$\$"
}
started=$(date +%s)
log "audit bench: fresh database $DB, $ROWS rows"
dropdb --if-exists "$DB"; createdb "$DB"
"${PSQL[@]}" -c 'CREATE EXTENSION idgraph'
# Today's seal_audit() (0.1.0): the same chain, with no txid bound.
"${PSQL[@]}" <<'SQL'
CREATE FUNCTION bench_seal_full() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_sysid bigint := idgraph._system_identifier(); v_prev idgraph.audit_seals;
  v_snap pg_snapshot; v_count bigint; v_agg bytea; v_digest bytea;
BEGIN
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN RETURN NULL; END IF;
  LOCK TABLE idgraph.audit_seals IN SHARE ROW EXCLUSIVE MODE;
  v_snap := pg_current_snapshot();
  SELECT * INTO v_prev FROM idgraph.audit_seals s WHERE s.sysid = v_sysid ORDER BY s.seal_id DESC LIMIT 1;
  SELECT count(*), string_agg(a.row_hash, ''::bytea ORDER BY a.audit_id) INTO v_count, v_agg
    FROM idgraph.audit_log a
   WHERE a.sysid = v_sysid AND pg_visible_in_snapshot(a.txid, v_snap)
     AND (v_prev.seal_id IS NULL OR NOT pg_visible_in_snapshot(a.txid, v_prev.snap));
  IF v_count = 0 THEN RETURN 0; END IF;
  v_digest := sha256(coalesce(v_prev.digest, ''::bytea) || v_agg);
  INSERT INTO idgraph.audit_seals (sysid, snap, row_count, prev_digest, digest)
  VALUES (v_sysid, v_snap, v_count, v_prev.digest, v_digest);
  RETURN v_count;
END $$;
SQL
t0=$(date +%s.%N); fill "$ROWS" "$CHUNK"; t1=$(date +%s.%N)
fill_s=$(printf "%.0f" "$(echo "$t1 - $t0" | bc)")
"${PSQL[@]}" -c 'VACUUM ANALYZE idgraph.audit_log'
first_ms=$(ms 'SELECT idgraph.seal_audit()')
new_ms=(); full_ms=(); add_ms=()
for r in $(seq 1 "$RUNS"); do
  add_ms+=("$(ms "INSERT INTO idgraph.audit_log (actor, action, external_id, n_total, n_new, sysid)
                  SELECT 'bench', 'allocate_batch', 'new-$r-' || g, 1, 1, idgraph._system_identifier()
                    FROM generate_series(1, $NEW) g")")
  if [ $((r % 2)) -eq 1 ]; then
    new_ms+=("$(ms 'SELECT idgraph.seal_audit()')")
  else
    full_ms+=("$(ms 'SELECT bench_seal_full()')")
  fi
done
# A long-lived session (the facade, the worker) gets plpgsql's generic plan after five
# calls: seal in one session six times, then add rows and seal again.
gen=(-c '\timing on'); for i in 1 2 3 4 5 6; do gen+=(-c 'SELECT idgraph.seal_audit()'); done
gen+=(-c "INSERT INTO idgraph.audit_log (actor, action, external_id, n_total, n_new, sysid)
          SELECT 'bench', 'allocate_batch', 'generic-' || g, 1, 1, idgraph._system_identifier()
            FROM generate_series(1, $NEW) g" -c 'SELECT idgraph.seal_audit()')
generic_ms=$("${PSQL[@]}" -At "${gen[@]}" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)
plan=$("${PSQL[@]}" -At -c "EXPLAIN SELECT count(*) FROM idgraph.audit_log a
  WHERE a.txid >= pg_snapshot_xmin(pg_current_snapshot()) AND a.txid < pg_snapshot_xmax(pg_current_snapshot())" | head -3 | tr '\n' ' ')
sealed=$("${PSQL[@]}" -At -c "SELECT string_agg(row_count::text, ',' ORDER BY seal_id) FROM idgraph.audit_seals")
verify_ms=$(ms 'SELECT idgraph.verify_audit()')
verified=$("${PSQL[@]}" -At -c 'SELECT idgraph.verify_audit()')
total=$("${PSQL[@]}" -At -c 'SELECT count(*) FROM idgraph.audit_log')
idx_bytes=$("${PSQL[@]}" -At -c "SELECT round(pg_relation_size('idgraph.audit_log_txid_idx')::numeric / $total, 2)")
heap_bytes=$("${PSQL[@]}" -At -c "SELECT round((pg_table_size('idgraph.audit_log') + pg_indexes_size('idgraph.audit_log') - pg_relation_size('idgraph.audit_log_txid_idx'))::numeric / $total, 1)")
# Worst case for the index: a distinct txid on every row (one audit row per call, each its
# own transaction), and the time the index adds per inserted row.
"${PSQL[@]}" -c "CREATE UNLOGGED TABLE bench_x (txid xid8)" -c "CREATE UNLOGGED TABLE bench_xi (txid xid8)" \
  -c "CREATE INDEX ON bench_xi (txid)"
noidx_ms=$(ms "INSERT INTO bench_x SELECT (1000000 + g)::text::xid8 FROM generate_series(1, 1000000) g")
idx_ms=$(ms "INSERT INTO bench_xi SELECT (1000000 + g)::text::xid8 FROM generate_series(1, 1000000) g")
distinct_bytes=$("${PSQL[@]}" -At -c "SELECT round(pg_relation_size('bench_xi_txid_idx')::numeric / 1000000, 2)")
per_row_us=$(printf "%.2f" "$(echo "scale=3; ($idx_ms - $noidx_ms) / 1000" | bc)")
elapsed=$(( $(date +%s) - started ))

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
join() { local IFS=,; echo "$*" | sed 's/,/, /g'; }
SEC=$(mktemp); trap 'rm -f "$SEC"' EXIT
cat > "$SEC" <<MD
<!-- audit-bench:start -->
## Audit seals (generated by \`benches/audit/run.sh\`; do not edit between the markers)

Run on $(date -u '+%Y-%m-%d %H:%M UTC'), ${elapsed} s, PostgreSQL $("${PSQL[@]}" -At -c 'SHOW server_version'), load average $(cut -d' ' -f1-3 /proc/loadavg) (2 shared cores: a noisy machine). Reproduce: \`benches/audit/run.sh\` after \`make install\` (\`BENCH_AUDIT_ROWS=$ROWS\`).

audit_log filled with $(printf "%'d" "$ROWS") rows set-based in ${fill_s} s ($CHUNK rows per transaction), VACUUM ANALYZE, sealed once (${first_ms} ms: the first seal reads everything). Then $RUNS times: $(printf "%'d" "$NEW") new rows in one transaction ($(join "${add_ms[@]}") ms), sealed alternately by the new and today's seal:

| seal of $(printf "%'d" "$NEW") new rows on top of $(printf "%'d" "$ROWS") | median (ms) | runs (ms) |
|---|---:|---|
| \`idgraph.seal_audit()\`: txid range since the previous seal's xmin (audit_log_txid_idx) | **$(median "${new_ms[@]}")** | $(join "${new_ms[@]}") |
| today's (0.1.0) seal: full scan with the same visibility tests | $(median "${full_ms[@]}") | $(join "${full_ms[@]}") |
| \`idgraph.seal_audit()\` in a session that has sealed six times already (plpgsql's generic plan) | $generic_ms | $generic_ms |

Target: < 100 ms at 10M rows. Rows per seal: $(echo "$sealed" | sed 's/,/, /g') (the same chain; \`verify_audit()\` afterwards: $verified).
Plan of the bounded scan: \`$plan\`

\`verify_audit()\` over all $(printf "%'d" "$total") rows and $(echo "$sealed" | tr ',' '\n' | wc -l) seals: ${verify_ms} ms. It stays a full re-hash (docs/AUDIT.md: only re-hashing every sealed row finds a sealed row rewritten with its hash); what changed is that each seal's recomputation reads only its own txid range, so it costs the table once, not once per seal.

The index's cost: ${idx_bytes} bytes per audit row here (one txid per $CHUNK-row transaction: deduplicated); on a distinct txid per row (one audit row per call, each its own transaction: the worst case) ${distinct_bytes} bytes per row, beside ${heap_bytes} bytes per row of table, TOAST and the other indexes. Inserting 1M distinct txids took ${idx_ms} ms with the btree and ${noidx_ms} ms without: ~${per_row_us} µs per row.
<!-- audit-bench:end -->
MD
SECTION=$(cat "$SEC") python3 - "$README" <<'PY'
import os, re, sys
p = sys.argv[1]; t = open(p).read(); s = os.environ["SECTION"]
pat = re.compile(r"<!-- audit-bench:start -->.*?<!-- audit-bench:end -->", re.S)
t = pat.sub(lambda m: s, t) if pat.search(t) else t.rstrip("\n") + "\n\n" + s + "\n"
open(p, "w").write(t)
PY
log "audit bench: seal ${new_ms[*]} ms (new) vs ${full_ms[*]} ms (full); verify ${verify_ms} ms"
