#!/usr/bin/env python3
"""Turns benches/out/identity_latency (written by run.sh) into its section of benches/README.md.

Only the text between the identity-latency-bench markers is rewritten (the section is appended
when the markers are missing); everything else in the README is kept. Prints the section too.
"""
import glob
import os
import re

OUT = os.environ["OUT"]
README = os.environ["BENCH_README"]
SECONDS = os.environ["BENCH_SECONDS"]
CLIENTS = os.environ["BENCH_CLIENTS"]
COMMITS = int(os.environ["BENCH_COMMITS"])
COMMIT_SIZE = int(os.environ["BENCH_COMMIT_SIZE"])
ROWS = int(os.environ["BENCH_ROWS"])
FILL_BATCH = int(os.environ["BENCH_FILL_BATCH"])
START, END = "<!-- identity-latency-bench:start -->", "<!-- identity-latency-bench:end -->"
BILLION = 1_000_000_000
T_BYTES = 120  # issue 9: bytes per allocation, table + indexes, committed and vacuumed


def kv(path):
    d = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    d[k] = v
    return d


def pgbench(path):
    text = open(path).read()

    def num(pattern):
        m = re.search(pattern, text, re.M)
        return float(m.group(1)) if m else None
    return {"tps": num(r"^tps = ([0-9.]+)"),
            "xacts": num(r"^number of transactions actually processed: (\d+)"),
            "failed": num(r"^number of failed transactions: (\d+)") or 0}


def latencies(name):
    lat = []
    for path in glob.glob(os.path.join(OUT, f"log_{name}.*")):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    lat.append(int(parts[2]) / 1000.0)  # µs -> ms
    lat.sort()
    return lat


def pct(lat, q):
    return lat[min(len(lat) - 1, int(round(q * (len(lat) - 1))))] if lat else None


def fmt(x, nd=1):
    return "—" if x is None else f"{x:,.{nd}f}"


m = kv(os.path.join(OUT, "machine.txt"))
b = {k: float(v) for k, v in kv(os.path.join(OUT, "bytes.txt")).items() if re.fullmatch(r"[0-9.]+", v)}
counts = kv(os.path.join(OUT, "counts.txt"))
indexes = [l.rstrip("\n").split("|", 2) for l in open(os.path.join(OUT, "indexes.txt")) if l.strip()]
columns = [l.rstrip("\n").split("|") for l in open(os.path.join(OUT, "columns.txt")) if l.strip()]

OPS = [("allocate", "single `idgraph.allocate`, one new natural key", None, f"-T {SECONDS}"),
       ("batch100", "`idgraph.allocate_batch` of 100 new natural keys", 100.0, f"-T {SECONDS}"),
       ("resolve", "`idgraph.resolve` of an existing id (20,000 committed)", 5.0, f"-T {SECONDS}"),
       ("commit", f"`idgraph.commit_submission` of a submission holding {COMMIT_SIZE:,} allocations", 20.0,
        f"-t {COMMITS // int(CLIENTS)}: {COMMITS} commits, each client its own"),
       ("commit1", f"the same commit from **1 client** alone (context, not the target's run)", None,
        f"-c 1 -t {os.environ.get('SERIAL_COMMITS', '?')}")]
rows = []
for name, label, target, how in OPS:
    r = pgbench(os.path.join(OUT, f"{name}.txt"))
    lat = latencies(name)
    p95 = pct(lat, 0.95)
    if name == "commit1":
        verdict = "(context)"
    elif target is None:
        verdict = "(reported)"
    else:
        verdict = f"< {target:g} ms " + ("✓" if p95 is not None and p95 < target else "✗")
    rows.append(f"| {label} | {how} | {len(lat):,} | {fmt(r['tps'])} | {fmt(pct(lat, 0.5), 3)} | "
                f"**{fmt(p95, 3)}** | {fmt(pct(lat, 0.99), 3)} | {fmt(lat[-1] if lat else None, 3)} | "
                f"{int(r['failed'])} | {verdict} |")

# Bytes: the fill's delta (the latency target's 20,000 seed rows were there before it).
d_rows = b["vacuumed_alloc_rows"] - b["before_alloc_rows"]
per = {k: (b[f"vacuumed_alloc_{k}"] - b[f"before_alloc_{k}"]) / d_rows for k in ("total", "heap", "toast", "indexes")}
per_pending = (b["committed_alloc_total"] - b["before_alloc_total"]) / d_rows
whole = b["vacuumed_alloc_total"] / b["vacuumed_alloc_rows"]
d_audit_rows = b["vacuumed_audit_rows"] - b["before_audit_rows"]
d_audit_bytes = b["vacuumed_audit_total"] - b["before_audit_total"]
d_calls = b["vacuumed_audit_calls"] - b["before_audit_calls"]
audit_per_alloc_batched = d_audit_bytes / d_rows
audit_per_row_fill = d_audit_bytes / d_audit_rows if d_audit_rows else None
audit_per_row_final = b["final_audit_total"] / b["final_audit_rows"]
subs_per = (b["vacuumed_subs_total"] - b["before_subs_total"]) / max(1.0, b["vacuumed_subs_rows"] - b["before_subs_rows"])
ok = per["total"] <= T_BYTES
gb = lambda x: x * BILLION / 1e9  # bytes per allocation -> GB for a billion
actions = {k[len("final_audit_"):]: int(v) for k, v in kv(os.path.join(OUT, "bytes.txt")).items()
           if k.startswith("final_audit_") and k[len("final_audit_"):] not in ("total", "rows", "calls")}
widths = {k[len("avg_width_"):]: v for k, v in kv(os.path.join(OUT, "bytes.txt")).items() if k.startswith("avg_width_")}

L = [START,
     "## Identity latency at 8 clients and bytes per allocation (generated by `benches/identity_latency/run.sh`; do not edit between the markers)",
     "",
     f"Run on {m.get('date_start')}, {int(m.get('elapsed_seconds', 0)) / 60:.1f} min; load average at start "
     f"{m.get('loadavg_start')}, at end {m.get('loadavg_end')} ({m.get('nproc')} shared cores: {m.get('cpu')}; "
     f"{m.get('mem')} RAM). PostgreSQL {m.get('pg')}, idgraph {m.get('extversion')} (repository HEAD {m.get('head')}); "
     f"{m.get('pgbench')}; settings: "
     + ", ".join(f"`{k[len('setting_'):]}={v}`" for k, v in sorted(m.items()) if k.startswith("setting_")) + ".",
     f"Reproduce: `benches/identity_latency/run.sh` after `make install` (or `make bench`); "
     f"`BENCH_SECONDS={SECONDS} BENCH_CLIENTS={CLIENTS} BENCH_COMMITS={COMMITS} BENCH_COMMIT_SIZE={COMMIT_SIZE} "
     f"BENCH_ROWS={ROWS}`. Database `{os.environ.get('BENCH_DB')}`, dropped and re-created, deployed with "
     "`sqitch deploy --verify` as `benches/identity` does; dropped at the end.",
     "",
     f"### Seed 000's latency table at {CLIENTS} clients",
     f"pgbench `-M prepared -c {CLIENTS}`, `nice -n 10`, a CHECKPOINT before each run, untimed warm-up first. "
     "p50/p95/p99/max over **every** transaction of the run (pgbench `--log`, no sampling), client-side "
     "latency including the round trip and the commit (`synchronous_commit=on`). Allocations go into one "
     "pending submission; the target already holds the bytes phase's "
     f"{ROWS:,} allocations of another target plus its own 20,000 committed seed ids. "
     f"The commits: {COMMITS} submissions of {COMMIT_SIZE:,} new ids each (uuids) prepared first with "
     "`allocate_batch`, VACUUM ANALYZE, then each client commits its own, one at a time "
     "(the submission's uuid is looked up by primary key inside the timed statement); "
     f"{m.get('nproc')} cores run all {CLIENTS} commits at once, so one client committing alone is shown beside it.",
     "",
     "| operation | run | transactions | tps | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | failed | target (p95) |",
     "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"] + rows + [
     "",
     "Sanity: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ".",
     "",
     "### Bytes per allocation on disk",
     f"A fresh target filled with **{d_rows:,.0f}** allocations (measured at {ROWS:,}, not 10M: "
     f"extrapolated from it) through `allocate_batch` in batches of {FILL_BATCH:,} new uuids "
     "(`gen_random_uuid()::text`, type `uuid`), one submission per batch, each committed right after "
     f"its batch ({b['fill_seconds']:.0f} s for the fill), then a plain `VACUUM` ({b['vacuum_seconds']:.1f} s). "
     "Sizes are `pg_total_relation_size` deltas over the fill (the 20,000 seed rows were there before).",
     "",
     "| | bytes per allocation | a billion allocations |",
     "|---|---:|---:|",
     f"| `idgraph.allocation_rows` (read through the view `idgraph.allocations`) + `allocation_origins`, table + TOAST + indexes, committed and vacuumed | **{per['total']:.1f}** "
     f"{'✓' if ok else '✗'} (target ≤ {T_BYTES}) | {gb(per['total']):,.0f} GB |",
     f"| of which heap | {per['heap']:.1f} | {gb(per['heap']):,.0f} GB |",
     f"| of which TOAST | {per['toast']:.1f} | {gb(per['toast']):,.0f} GB |",
     f"| of which indexes | {per['indexes']:.1f} | {gb(per['indexes']):,.0f} GB |",
     f"| the same measured right after the commits, before the VACUUM | {per_pending:.1f} | {gb(per_pending):,.0f} GB |",
     f"| whole table / its rows after the VACUUM (seed rows included) | {whole:.1f} | {gb(whole):,.0f} GB |",
     f"| `idgraph.audit_log` per allocation, in batches of {FILL_BATCH:,} ({d_audit_rows:,.0f} audit rows: "
     f"{d_calls:,.0f} `allocate_batch` calls + their submissions' create/commit rows) | {audit_per_alloc_batched:.3f} | "
     f"{gb(audit_per_alloc_batched):,.1f} GB |",
     f"| `idgraph.audit_log` per audit row = per allocation call (one row per call, a batch being one call), "
     f"over all {b['final_audit_rows']:,.0f} audit rows at the end of the run | {audit_per_row_final:.1f} | "
     f"{gb(audit_per_row_final):,.0f} GB if each allocation were its own call |",
     f"| `idgraph.submissions` per submission | {subs_per:.0f} | — |",
     "",
     f"A billion allocations with this layout: **{gb(per['total']):,.0f} GB** of allocations (table + indexes) "
     f"+ {gb(audit_per_alloc_batched):,.1f} GB of audit when they arrive in batches of {FILL_BATCH:,}, "
     f"or + {gb(audit_per_row_final):,.0f} GB of audit when each is its own `allocate` call "
     f"({audit_per_row_final:.1f} bytes per call, a bounded cost: one row per call whatever the batch size). "
     f"GB = 10⁹ bytes; a straight per-row extrapolation from {d_rows:,.0f} rows (b-tree depth and "
     "per-page overheads grow slowly, so it is a slight underestimate at 10⁹)."
     + ("" if ok else f" The {T_BYTES}-byte target is missed by {per['total'] - T_BYTES:.1f} bytes per allocation."),
     "",
     "Indexes of `idgraph.allocation_rows` after the VACUUM (whole index, seed rows included): "
     + "; ".join(f"`{n}` {int(s) / b['vacuumed_alloc_rows']:.1f} B/row (`{d.split(' USING ')[-1]}`)" for n, s, d in indexes) + ".",
     "Columns (average stored width from `pg_stats`): "
     + ", ".join(f"`{c}` {t}{' ' + widths[c] + ' B' if c in widths else ''}" for c, t, _ in columns) + ".",
     "Audit rows by action at the end: " + ", ".join(f"{k} {v:,}" for k, v in sorted(actions.items())) + ".",
     "",
     "Raw pgbench output and logs: `benches/out/identity_latency/` (not committed).",
     END]
section = "\n".join(L)

text = open(README).read() if os.path.exists(README) else "# Benchmarks\n\n"
if START in text and END in text:
    text = text[:text.index(START)] + section + text[text.index(END) + len(END):]
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
with open(README, "w") as f:
    f.write(text)
print(section)
