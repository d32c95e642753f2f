#!/usr/bin/env python3
"""In-database centrality figures for one graph, printed as JSON lines (appended by run.sh
to benches/out/centrality/CASE.jsonl, read by report.py):

1. reset the graph tables of the bench database and load the graph through
   `idgraph.ingest_graph` (an FR-1 document: --doc as given, or built from the CSV edge
   list with services `n0`, `n1`, …; split to respect the per-document caps);
2. `SELECT idgraph.refresh_centrality('exact')`, --reps times, timed by the client; with
   --core-bin each repetition first runs idgraph-core's pure function on the same CSV
   (core/examples/centrality_bench.rs, --reps 1), so the two alternate;
3. the betweenness the database computed (every service, and centrality_top's top 20),
   written to --values for report.py to check against the peers' values;
4. with --top-calls N: `centrality_top('betweenness', 20)` N times, prepared, one session
   (client wall time per call; a `SELECT 1` round trip and the server-side execution time
   from EXPLAIN ANALYZE for scale);
5. a fresh backend's peak RSS (VmHWM from /proc) before and after one refresh, and the
   cached snapshot's heap bytes per service and per edge (the function's summary);
6. with --incremental N: the upkeep of one edge on the loaded graph. For N random pairs of
   unconnected services (and --hub H pairs from the highest-degree service): a direct
   `INSERT INTO idgraph.edges` (autocommit, the statement trigger updates degree and
   clustering of the affected services), its `DELETE`, `idgraph.ingest_graph` with that
   one edge (then deleted again, untimed), `idgraph._centrality_touch` alone (the trigger's
   work), and at the end the same INSERT/DELETE with the centrality triggers disabled (the
   floor: the row, indexes, other triggers and the commit). Checks: the endpoints' degrees
   right after the insert, the stale flag, and that degree/clustering of every service
   after all the inserts and deletes equal the full refresh's.

Usage: indb.py CASE --db DB --csv EDGES.csv [--doc FR1.json] [--values OUT.json]
               [--reps 3] [--core-bin BIN] [--top-calls 0] [--incremental 0] [--hub 0] [--seed 7]
"""
import argparse
import datetime
import json
import math
import random
import re
import subprocess
import sys
import time

import psycopg

GRAPH_TABLES = ("idgraph.services, idgraph.edges, idgraph.circular_dependency_alerts, "
                "idgraph.slos, idgraph.centrality")
MAX_NODES, MAX_EDGES = 50_000, 500_000  # per FR-1 document (core/src/depgraph/ingest.rs)
CENTRALITY_TRIGGERS = ("edges_centrality_insert", "edges_centrality_delete")


def emit(obj):
    print(json.dumps(obj), flush=True)


def ms(seconds):
    return round(seconds * 1e3, 4)


def sql_error(e, **extra):
    """SQLSTATE, message, detail and where it was raised (PL/pgSQL functions in its context,
    when the context survives the Rust layer)."""
    where = re.findall(r"PL/pgSQL function ([^\n]*?) line \d+", e.diag.context or "")
    return {"sqlstate": e.sqlstate, "message": str(e).splitlines()[0], "where": where,
            "detail": e.diag.message_detail, **extra}


def read_csv(path):
    pairs, top = [], -1
    with open(path) as f:
        next(f, None)
        for line in f:
            a, b = line.strip().split(",")[:2]
            a, b = int(a), int(b)
            top = max(top, a, b)
            pairs.append((a, b))
    return top + 1, pairs


def graph_documents(args):
    """(names in index order, [FR-1 documents]) for the graph to load."""
    n, pairs = read_csv(args.csv)
    if args.doc:
        doc = json.load(open(args.doc))
        names = [x["service_id"] for x in doc["nodes"]]
        source, ts = doc["source"], doc.get("timestamp")
        nodes, edges = doc["nodes"], doc["edges"]
    else:
        names = [f"n{i}" for i in range(n)]
        source, ts = "manual", None
        nodes = [{"service_id": s} for s in names]
        edges = [{"source": names[a], "target": names[b]} for a, b in pairs]
    ts = ts or datetime.datetime.now(datetime.timezone.utc).isoformat()
    docs = []
    for i in range(0, len(nodes), MAX_NODES):
        docs.append({"source": source, "timestamp": ts, "nodes": nodes[i:i + MAX_NODES], "edges": []})
    for i in range(0, len(edges), MAX_EDGES):
        part = {"source": source, "timestamp": ts, "nodes": [], "edges": edges[i:i + MAX_EDGES]}
        if i == 0 and len(docs) == 1:
            docs[0]["edges"] = part["edges"]  # the common case: one document
        else:
            docs.append(part)
    return names, docs


def load(conn, case, args):
    """Loads the graph through ingest_graph. If that fails (an error the database raises,
    reported in the output), loads the services through ingest_graph and the edges with
    one direct INSERT … SELECT as superuser instead, so the rest can still be measured."""
    names, docs = graph_documents(args)
    conn.execute(f"TRUNCATE {GRAPH_TABLES} RESTART IDENTITY CASCADE")
    total, results, error, fallback = 0.0, [], None, None
    try:
        for d in docs:
            text = json.dumps(d)
            t = time.perf_counter()
            r = conn.execute("SELECT idgraph.ingest_graph(%s::jsonb)", (text,)).fetchone()[0]
            total += time.perf_counter() - t
            results.append({"bytes": len(text), "seconds": r.get("seconds"), "created": r.get("created"),
                            "placeholders": r.get("placeholders"),
                            "cycles": (r.get("cycles") or {}).get("count")})
    except psycopg.Error as e:
        total += time.perf_counter() - t
        error = sql_error(e, after_seconds=round(total, 3), documents_ingested=len(results))
        conn.execute(f"TRUNCATE {GRAPH_TABLES} RESTART IDENTITY CASCADE")
        ts = docs[0]["timestamp"]
        t = time.perf_counter()
        for d in docs:
            if d["nodes"]:
                conn.execute("SELECT idgraph.ingest_graph(%s::jsonb)",
                             (json.dumps({"source": d["source"], "timestamp": ts, "nodes": d["nodes"]}),))
        nodes_s = time.perf_counter() - t
        src = [e["source"] for d in docs for e in d["edges"]]
        dst = [e["target"] for d in docs for e in d["edges"]]
        t = time.perf_counter()
        n_edges = conn.execute(
            "INSERT INTO idgraph.edges (source_pk, target_pk, discovery_source, first_observed_at, last_observed_at) "
            "SELECT s.service_pk, t.service_pk, %s, %s::timestamptz, %s::timestamptz "
            "  FROM unnest(%s::text[], %s::text[]) AS e(a, b) "
            "  JOIN idgraph.services s ON s.service_id = e.a JOIN idgraph.services t ON t.service_id = e.b "
            "ON CONFLICT DO NOTHING", (docs[0]["source"], ts, ts, src, dst)).rowcount
        fallback = {"nodes_ingest_seconds": round(nodes_s, 4),
                    "edges_insert_seconds": round(time.perf_counter() - t, 4), "edges_inserted": n_edges}
    conn.execute("ANALYZE idgraph.services, idgraph.edges, idgraph.centrality")
    services, edges = conn.execute(
        "SELECT (SELECT count(*) FROM idgraph.services), "
        "(SELECT count(*) FROM (SELECT DISTINCT source_pk, target_pk FROM idgraph.edges "
        " WHERE NOT stale AND source_pk <> target_pk) x)").fetchone()
    emit({"tool": "idgraph-sql load", "case": case, "documents": len(docs), "seconds": round(total, 4),
          "ingests": results, "ingest_error": error, "fallback": fallback,
          "services": services, "edges": edges})
    return names


def run_core(core_bin, csv):
    out = subprocess.run([core_bin, csv, "--reps", "1"], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.strip().startswith("{"):
            print(line, flush=True)


def refresh(conn, args):
    for _ in range(args.reps):
        if args.core_bin:
            run_core(args.core_bin, args.csv)
        t = time.perf_counter()
        r = conn.execute("SELECT idgraph.refresh_centrality('exact')").fetchone()[0]
        wall = time.perf_counter() - t
        s, m = conn.execute("SELECT sum(betweenness), max(betweenness) FROM idgraph.centrality").fetchone()
        emit({"tool": "idgraph-sql", "seconds": round(wall, 4), "function_seconds": r["seconds"],
              "compute_seconds": r["seconds_compute"], "load_seconds": r.get("seconds_load"),
              "write_seconds": r.get("seconds_write"), "rows_written": r.get("rows_written"),
              "n": r["services"], "m": r["edges"],
              "directed": True, "threads": "backend", "sum": s, "max": m, "mode": r["mode"]})


def status_kb(pid, field):
    """A field of /proc/PID/status in kB (the bench runs on the database's host, as root or
    as the server's user); None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def memory(args):
    """A fresh backend: its peak RSS (VmHWM) before and after one refresh_centrality('exact')
    (the first call in the backend, so it loads the graph snapshot too), and the snapshot's
    heap bytes as the function reports them."""
    with psycopg.connect(dbname=args.db, autocommit=True) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        before, rss0 = status_kb(pid, "VmHWM"), status_kb(pid, "VmRSS")
        t = time.perf_counter()
        r = conn.execute("SELECT idgraph.refresh_centrality('exact')").fetchone()[0]
        wall = time.perf_counter() - t
        emit({"tool": "idgraph-sql memory", "vmhwm_before_kb": before, "vmrss_before_kb": rss0,
              "vmhwm_after_kb": status_kb(pid, "VmHWM"), "vmrss_after_kb": status_kb(pid, "VmRSS"),
              "seconds": round(wall, 4), "rows_written": r.get("rows_written"),
              "services": r["services"], "graph_edges": r.get("graph_edges"), "pairs": r["edges"],
              "cache_bytes_services": r.get("cache_bytes_services"), "cache_bytes_edges": r.get("cache_bytes_edges")})


def dump_values(conn, names, path):
    rows = dict(conn.execute("SELECT service, betweenness FROM idgraph.centrality").fetchall())
    top = [r[0] for r in conn.execute(
        "SELECT service FROM idgraph.centrality_top('betweenness', 20) ORDER BY rank").fetchall()]
    stale = conn.execute("SELECT count(*) FROM idgraph.centrality c, idgraph.graph_state g, idgraph.centrality_state r "
                         "WHERE c.betweenness IS NULL OR r.betweenness_version IS DISTINCT FROM g.topology_version"
                         ).fetchone()[0]
    with open(path, "w") as f:
        json.dump({"names": names, "values": [rows.get(s) for s in names], "top20": top,
                   "extra_services": sorted(set(rows) - set(names))[:20], "stale_after_refresh": stale}, f)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))]


def bench_top(conn, calls):
    q = "SELECT * FROM idgraph.centrality_top('betweenness', 20)"
    with conn.cursor() as cur:
        for _ in range(20):
            cur.execute(q, prepare=True)
            cur.fetchall()
            cur.execute("SELECT 1", prepare=True)
            cur.fetchall()
        top, rtt, rows = [], [], 0
        for _ in range(calls):
            t = time.perf_counter()
            cur.execute(q, prepare=True)
            rows = len(cur.fetchall())
            top.append(time.perf_counter() - t)
            t = time.perf_counter()
            cur.execute("SELECT 1", prepare=True)
            cur.fetchall()
            rtt.append(time.perf_counter() - t)
        server = []
        for _ in range(min(calls, 50)):
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + q)
            server.append(cur.fetchone()[0][0]["Execution Time"] / 1e3)
    emit({"tool": "centrality_top", "calls": calls, "rows": rows,
          "p50_ms": ms(pct(top, 50)), "p95_ms": ms(pct(top, 95)), "mean_ms": ms(sum(top) / len(top)),
          "max_ms": ms(max(top)), "rtt_p50_ms": ms(pct(rtt, 50)),
          "server_p50_ms": ms(pct(server, 50)), "server_p95_ms": ms(pct(server, 95)),
          "server_samples": len(server)})


def snapshot(conn):
    return {r[0]: r[1:] for r in conn.execute(
        "SELECT service_pk, in_degree, out_degree, degree, clustering FROM idgraph.centrality")}


def bench_incremental(conn, args):
    rng = random.Random(args.seed)
    pk = dict(conn.execute("SELECT service_id, service_pk FROM idgraph.services").fetchall())
    names = sorted(pk)
    linked = set()
    for s, t in conn.execute("SELECT DISTINCT source_pk, target_pk FROM idgraph.edges"):
        linked.add((s, t))
        linked.add((t, s))
    hub, hub_degree = conn.execute(
        "SELECT service, degree FROM idgraph.centrality ORDER BY degree DESC, service LIMIT 1").fetchone()

    def pick(src=None):
        while True:
            u, v = src or rng.choice(names), rng.choice(names)
            if u != v and (pk[u], pk[v]) not in linked:
                linked.add((pk[u], pk[v]))
                linked.add((pk[v], pk[u]))
                return u, v

    pairs = [("random", *pick()) for _ in range(args.incremental)] + \
            [("hub", *pick(hub)) for _ in range(args.hub)]
    before = snapshot(conn)
    ops = ("insert", "delete", "ingest_graph", "touch", "insert_no_trigger", "delete_no_trigger")
    samples = {kind: {op: [] for op in ops} for kind in ("random", "hub")}
    ingest_fn = {"random": [], "hub": []}
    degree_ok, stale_ok, affected_sizes = 0, 0, {"random": [], "hub": []}
    ingest_error = None
    ins = ("INSERT INTO idgraph.edges (source_pk, target_pk, discovery_source) "
           "VALUES (%s, %s, 'manual') RETURNING edge_pk")
    deg_sql = ("SELECT c.out_degree, (SELECT count(DISTINCT target_pk) FROM idgraph.edges "
               "  WHERE source_pk = %(u)s AND NOT stale AND target_pk <> source_pk), "
               "d.in_degree, (SELECT count(DISTINCT source_pk) FROM idgraph.edges "
               "  WHERE target_pk = %(v)s AND NOT stale AND target_pk <> source_pk), "
               "(SELECT betweenness_stale FROM idgraph.centrality_of(%(un)s)) "
               "FROM idgraph.centrality c, idgraph.centrality d WHERE c.service_pk = %(u)s AND d.service_pk = %(v)s")
    for kind, u, v in pairs:
        pu, pv = pk[u], pk[v]
        # The services whose row the trigger rewrites carry the new graph_version.
        version0 = conn.execute("SELECT topology_version FROM idgraph.graph_state").fetchone()[0]
        t = time.perf_counter()
        edge = conn.execute(ins, (pu, pv)).fetchone()[0]
        samples[kind]["insert"].append(time.perf_counter() - t)
        out_c, out_real, in_c, in_real, stale = conn.execute(
            deg_sql, {"u": pu, "v": pv, "un": u}).fetchone()
        degree_ok += out_c == out_real and in_c == in_real
        stale_ok += bool(stale)
        affected_sizes[kind].append(conn.execute(
            "SELECT count(*) FROM idgraph.centrality WHERE graph_version > %s", (version0,)).fetchone()[0])
        t = time.perf_counter()
        conn.execute("DELETE FROM idgraph.edges WHERE edge_pk = %s", (edge,))
        samples[kind]["delete"].append(time.perf_counter() - t)

        doc = json.dumps({"source": "manual",
                          "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                          "nodes": [], "edges": [{"source": u, "target": v}]})
        if ingest_error is None:
            t = time.perf_counter()
            try:
                r = conn.execute("SELECT idgraph.ingest_graph(%s::jsonb)", (doc,)).fetchone()[0]
                samples[kind]["ingest_graph"].append(time.perf_counter() - t)
                ingest_fn[kind].append(r.get("seconds"))
                conn.execute("DELETE FROM idgraph.edges WHERE source_pk = %s AND target_pk = %s", (pu, pv))
            except psycopg.Error as e:
                # Not retried: the same error would come back for every sample.
                ingest_error = sql_error(e, after_ms=ms(time.perf_counter() - t))

        t = time.perf_counter()
        conn.execute("SELECT idgraph._centrality_touch(ARRAY[%s]::int[], ARRAY[%s]::int[])", (pu, pv))
        samples[kind]["touch"].append(time.perf_counter() - t)

    after = snapshot(conn)
    same = before.keys() == after.keys() and all(
        before[k][:3] == after[k][:3] and abs(before[k][3] - after[k][3]) <= 1e-12 for k in before)

    conn.execute("ALTER TABLE idgraph.edges " + ", ".join(f"DISABLE TRIGGER {t}" for t in CENTRALITY_TRIGGERS))
    try:
        for kind, u, v in pairs:
            t = time.perf_counter()
            edge = conn.execute(ins, (pk[u], pk[v])).fetchone()[0]
            samples[kind]["insert_no_trigger"].append(time.perf_counter() - t)
            t = time.perf_counter()
            conn.execute("DELETE FROM idgraph.edges WHERE edge_pk = %s", (edge,))
            samples[kind]["delete_no_trigger"].append(time.perf_counter() - t)
    finally:
        conn.execute("ALTER TABLE idgraph.edges " + ", ".join(f"ENABLE TRIGGER {t}" for t in CENTRALITY_TRIGGERS))

    hub_pk = pk[hub]
    hub_hood = conn.execute(
        "SELECT count(DISTINCT x) FROM (SELECT target_pk AS x FROM idgraph.edges WHERE source_pk = %(h)s "
        "UNION ALL SELECT source_pk FROM idgraph.edges WHERE target_pk = %(h)s) y", {"h": hub_pk}).fetchone()[0]
    emit({"tool": "idgraph-sql incremental",
          "pairs": [[k, u, v] for k, u, v in pairs],
          "samples_ms": {k: {op: [ms(x) for x in xs] for op, xs in d.items()} for k, d in samples.items()},
          "ingest_function_ms": {k: [ms(x) for x in xs if x is not None] for k, xs in ingest_fn.items()},
          "ingest_graph_error": ingest_error, "affected": affected_sizes, "hub": hub, "hub_degree": hub_degree, "hub_neighbours": hub_hood,
          "checks": {"endpoint_degrees_ok": degree_ok, "stale_flagged": stale_ok, "inserts": len(pairs),
                     "degree_clustering_equal_to_refresh_after_insert_delete": same}})


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("case")
    p.add_argument("--db", required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--doc")
    p.add_argument("--values")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--core-bin")
    p.add_argument("--top-calls", type=int, default=0)
    p.add_argument("--incremental", type=int, default=0)
    p.add_argument("--hub", type=int, default=0)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    with psycopg.connect(dbname=a.db, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '10min'")
        names = load(conn, a.case, a)
        refresh(conn, a)
        memory(a)
        if a.values:
            dump_values(conn, names, a.values)
        if a.top_calls:
            bench_top(conn, a.top_calls)
        if a.incremental or a.hub:
            bench_incremental(conn, a)


if __name__ == "__main__":
    main()
