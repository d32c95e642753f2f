#!/usr/bin/env python3
"""Graph bench driver (issue 3 "Speed"; SPEC §2, §5). Run by benches/graph/run.sh.

Against a database that has the idgraph extension and nothing else in its graph tables:

1. ingest: BENCH_INGEST_RUNS cycles of
     reset (TRUNCATE the graph tables), then in one session (as a pooled client holds it):
       ingest_graph(doc)                     "first ingest"
       ingest_graph(doc)                     "re-ingest, same document"
       ingest_graph(doc, timestamp + r h)    "re-ingest, later timestamp, same session"
     then in a fresh session:
       ingest_graph(doc, timestamp + r h 30 min)  "re-ingest, later timestamp, fresh session"
   each after a CHECKPOINT, timed by the client (the function's own `seconds` is kept
   too), under statement_timeout = BENCH_INGEST_TIMEOUT. A step that times out is reported
   as such and not repeated in later cycles; a step slower than BENCH_INGEST_SLOW seconds
   is not repeated either (to keep the bench short).
2. traversal: 3-hop downstream from seeded random frontends. Contenders, in rotating order
   per sample, all prepared, each wrapped in count(*) so only one row crosses the socket:
     idgraph   idgraph.dependencies(svc, 'downstream', 3)
     fr1       FR-1's recursive CTE as written (every path, no dedupe) over idgraph.edges
     fr1_dedup the same CTE reduced to each service once at its shortest depth (idgraph's answer)
   The baseline uses idgraph.edges' own indexes: UNIQUE (source_pk, target_pk,
   discovery_source) and (target_pk); tables ANALYZEd. A few samples are checked for the
   same set of reached services.
3. composite_availability on the service with the largest downstream closure and
   impact_analysis on the one with the largest upstream closure (closures at depth 10 over
   every service), each with the default p_detail 'summary' and with 'full': warm p50/p95
   (rotating order), and the first call of the default in a fresh session (cold backend
   cache) over BENCH_COLD_SESSIONS sessions.

Writes a JSON document with everything to --out. Connection from libpq's environment
(PGHOST, PGUSER, ...) and --db.
"""
import argparse
import datetime
import json
import os
import random
import statistics
import subprocess
import sys
import time

import psycopg
from psycopg.types.string import TextLoader

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import pct  # noqa: E402

GRAPH_TABLES = ("idgraph.services, idgraph.edges, idgraph.circular_dependency_alerts, "
                "idgraph.slos, idgraph.centrality")

Q_IDGRAPH = "SELECT count(*) FROM idgraph.dependencies(%(svc)s, 'downstream', %(depth)s)"

# FR-1 "Graph Traversal", verbatim but for names: service_dependencies -> idgraph.edges
# (source_pk/target_pk integers, `stale` for is_stale); :service_id is looked up from the
# business id, as idgraph.dependencies takes the business id too.
FR1_CTE = """
WITH RECURSIVE dependency_tree AS (
  SELECT e.target_pk, e.source_pk, 1 AS depth,
         ARRAY[e.source_pk] AS path
    FROM idgraph.edges e
   WHERE e.source_pk = (SELECT s.service_pk FROM idgraph.services s WHERE s.service_id = %(svc)s)
     AND e.stale = false
  UNION ALL
  SELECT e.target_pk, e.source_pk, dt.depth + 1,
         dt.path || e.source_pk
    FROM idgraph.edges e
    JOIN dependency_tree dt ON e.source_pk = dt.target_pk
   WHERE dt.depth < %(depth)s
     AND e.stale = false
     AND NOT e.target_pk = ANY(dt.path)
)
"""
Q_FR1 = FR1_CTE + "SELECT count(*) FROM dependency_tree"
Q_FR1_DEDUP = FR1_CTE + """SELECT count(*) FROM (
  SELECT DISTINCT ON (target_pk) target_pk, depth, source_pk, path
    FROM dependency_tree ORDER BY target_pk, depth) x"""

CHECK_IDGRAPH = ("SELECT coalesce(array_agg(service_id ORDER BY service_id), '{}') "
                 "FROM idgraph.dependencies(%(svc)s, 'downstream', %(depth)s)")
CHECK_FR1 = FR1_CTE + """SELECT coalesce(array_agg(s.service_id ORDER BY s.service_id), '{}')
  FROM (SELECT DISTINCT target_pk FROM dependency_tree) d JOIN idgraph.services s ON s.service_pk = d.target_pk"""

CONTENDERS = [("idgraph", Q_IDGRAPH), ("fr1", Q_FR1), ("fr1_dedup", Q_FR1_DEDUP)]


def log(msg: str) -> None:
    print(f"    {msg}", file=sys.stderr, flush=True)


def summary_ms(ns_list):
    ms = [x / 1e6 for x in ns_list]
    return {"n": len(ms), "p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "min_ms": min(ms),
            "max_ms": max(ms), "mean_ms": statistics.fmean(ms)}


class Bench:
    def __init__(self, args):
        self.args = args
        self.dsn = f"dbname={args.db} application_name=idgraph_graph_bench"

    def connect(self):
        conn = psycopg.connect(self.dsn, autocommit=True)
        # Keep jsonb results as text: time the server, not the client's JSON parser.
        conn.adapters.register_loader("jsonb", TextLoader)
        return conn

    # ---------------------------------------------------------------- ingest
    def reset(self):
        with self.connect() as c:
            c.execute(f"TRUNCATE {GRAPH_TABLES} RESTART IDENTITY CASCADE")

    def ingest(self, conn, doc_text: str, label: str):
        conn.execute("CHECKPOINT")
        t0 = time.perf_counter()
        try:
            row = conn.execute("SELECT idgraph.ingest_graph(%s::jsonb)", (doc_text,)).fetchone()
        except psycopg.errors.QueryCanceled:
            dt = time.perf_counter() - t0
            log(f"{label}: TIMEOUT after {dt:.1f} s (statement_timeout {self.args.ingest_timeout:.0f} s)")
            return {"timeout": True, "seconds": dt}
        dt = time.perf_counter() - t0
        s = json.loads(row[0])
        out = {"timeout": False, "seconds": dt, "server_seconds": s.get("seconds"),
               "created": s.get("created"), "updated": s.get("updated"),
               "placeholders": s.get("placeholders"), "conflicts": len(s.get("conflicts") or []),
               "cycles": (s.get("cycles") or {}).get("count"), "received": s.get("received")}
        log(f"{label}: {dt:.3f} s (function's own: {out['server_seconds']:.3f} s) created {out['created']} "
            f"updated {out['updated']} cycles {out['cycles']}")
        return out

    def session(self):
        conn = self.connect()
        conn.execute(f"SET statement_timeout = '{int(self.args.ingest_timeout)}s'")
        return conn

    def bench_ingest(self, doc: dict):
        """Cycles of: TRUNCATE; one session (as a pooled client would hold it): first ingest,
        the same document again, the document with a later timestamp; then a fresh session:
        the document with a still later timestamp."""
        base_ts = datetime.datetime.fromisoformat(doc["timestamp"].replace("Z", "+00:00"))
        doc_text = json.dumps(doc, separators=(",", ":"))

        def at(delta):
            d = dict(doc)
            d["timestamp"] = (base_ts + delta).strftime("%Y-%m-%dT%H:%M:%SZ")
            return json.dumps(d, separators=(",", ":"))

        steps = {"first": [], "same": [], "later_reused": [], "later_fresh": []}
        skip = set()

        def run(conn, step, r, text):
            if step in skip:
                return None
            res = self.ingest(conn, text, f"ingest run {r} {step}")
            res["run"] = r
            steps[step].append(res)
            if res["timeout"] or res["seconds"] > self.args.ingest_slow:
                skip.add(step)
            return res

        for r in range(1, self.args.ingest_runs + 1):
            self.reset()
            with self.session() as c:
                first = run(c, "first", r, doc_text)
                if first is None or first["timeout"]:
                    continue
                run(c, "same", r, doc_text)
                run(c, "later_reused", r, at(datetime.timedelta(hours=r)))
            with self.session() as c:
                run(c, "later_fresh", r, at(datetime.timedelta(hours=r, minutes=30)))
        # Leave the document in the tables for what follows.
        with self.connect() as c:
            n = c.execute("SELECT count(*) FROM idgraph.edges").fetchone()[0]
        if n == 0:
            self.reset()
            with self.session() as c:
                self.ingest(c, doc_text, "ingest (to load the graph for the query benches)")
        out = {}
        for step, runs in steps.items():
            ok = [x["seconds"] for x in runs if not x["timeout"]]
            out[step] = {"runs": runs, "median_s": statistics.median(ok) if ok else None,
                         "timeouts": sum(1 for x in runs if x["timeout"])}
        return out

    # ---------------------------------------------------------------- traversal
    def bench_traversal(self):
        a = self.args
        with self.connect() as c:
            c.execute("ANALYZE idgraph.services, idgraph.edges")
            frontends = [r[0] for r in c.execute(
                "SELECT service_id FROM idgraph.services WHERE service_id LIKE 'frontend-%' ORDER BY 1")]
            rng = random.Random(a.seed)
            samples = [rng.choice(frontends) for _ in range(a.traversals)]
            warm = [rng.choice(frontends) for _ in range(a.warmup)]

            # Same answer? (set of reached services)
            checks = []
            for svc in samples[: a.checks]:
                p = {"svc": svc, "depth": 3}
                x = c.execute(CHECK_IDGRAPH, p).fetchone()[0]
                y = c.execute(CHECK_FR1, p).fetchone()[0]
                checks.append(x == y)
            sizes = {}
            for name, q in CONTENDERS:
                sizes[name] = statistics.fmean(
                    c.execute(q, {"svc": s, "depth": 3}).fetchone()[0] for s in samples[: a.checks])

            # Warm every contender (plans, the graph cache, buffers), prepared.
            for svc in warm:
                for _, q in CONTENDERS:
                    c.execute(q, {"svc": svc, "depth": 3}, prepare=True).fetchone()
            rtt = []
            for _ in range(200):
                t0 = time.perf_counter_ns()
                c.execute("SELECT 1", prepare=True).fetchone()
                rtt.append(time.perf_counter_ns() - t0)

            times = {name: [] for name, _ in CONTENDERS}
            for i, svc in enumerate(samples):
                k = i % len(CONTENDERS)
                order = CONTENDERS[k:] + CONTENDERS[:k]
                for name, q in order:
                    p = {"svc": svc, "depth": 3}
                    t0 = time.perf_counter_ns()
                    c.execute(q, p, prepare=True).fetchone()
                    times[name].append(time.perf_counter_ns() - t0)
            # Diagnostic, not a contender: the same call at depth 1 (a few dozen rows) shows
            # idgraph's fixed cost per call; the rest of a depth-3 call is per returned row.
            d1, d1_rows = [], []
            for svc in samples:
                t0 = time.perf_counter_ns()
                n = c.execute(Q_IDGRAPH, {"svc": svc, "depth": 1}, prepare=True).fetchone()[0]
                d1.append(time.perf_counter_ns() - t0)
                d1_rows.append(n)
        res = {"samples": len(samples), "distinct_frontends": len(set(samples)),
               "idgraph_depth1": {**summary_ms(d1), "rows_mean": statistics.fmean(d1_rows)},
               "frontends": len(frontends), "warmup": len(warm),
               "checks": {"n": len(checks), "agree": sum(checks)},
               "rows_mean": sizes, "rtt": summary_ms(rtt),
               "contenders": {name: summary_ms(t) for name, t in times.items()}}
        for name in ("fr1", "fr1_dedup"):
            res[f"ratio_{name}_p50"] = res["contenders"][name]["p50_ms"] / res["contenders"]["idgraph"]["p50_ms"]
            res[f"ratio_{name}_p95"] = res["contenders"][name]["p95_ms"] / res["contenders"]["idgraph"]["p95_ms"]
            # Per-sample ratios (same service, back to back), median.
            res[f"ratio_{name}_per_sample_median"] = statistics.median(
                b / x for b, x in zip(times[name], times["idgraph"]))
        for name, s in res["contenders"].items():
            log(f"traversal {name}: p50 {s['p50_ms']:.3f} ms p95 {s['p95_ms']:.3f} ms (rows {sizes[name]:.0f})")
        log(f"traversal ratio fr1/idgraph p50 {res['ratio_fr1_p50']:.1f}x p95 {res['ratio_fr1_p95']:.1f}x; "
            f"same answer {sum(checks)}/{len(checks)}")
        return res

    # ---------------------------------------------------------------- composite / impact
    def bench_closures(self):
        a = self.args
        with self.connect() as c:
            # SLOs on the top of the graph (gateways, frontends) so impact_analysis has at-risk
            # flags to compute, as it would in use.
            c.execute("""SELECT count(idgraph.set_slo(service_id, 0.999, NULL, NULL, 'graph bench'))
                           FROM idgraph.services WHERE service_id LIKE 'gateway-%' OR service_id LIKE 'frontend-%'""")
            t0 = time.perf_counter()
            down = c.execute("""SELECT s.service_id, (SELECT count(*) FROM idgraph.dependencies(s.service_id, 'downstream', 10))
                                  FROM idgraph.services s ORDER BY 2 DESC, 1 LIMIT 1""").fetchone()
            up = c.execute("""SELECT s.service_id, (SELECT count(*) FROM idgraph.dependencies(s.service_id, 'upstream', 10))
                                FROM idgraph.services s ORDER BY 2 DESC, 1 LIMIT 1""").fetchone()
            pick_s = time.perf_counter() - t0
            n_services = c.execute("SELECT count(*) FROM idgraph.services").fetchone()[0]
        log(f"largest downstream closure: {down[0]} ({down[1]} services); largest upstream: {up[0]} ({up[1]}); "
            f"found in {pick_s:.1f} s")
        # The default answer (p_detail 'summary', issue 10's target) and the full listing.
        calls = {
            "composite": ("SELECT idgraph.composite_availability(%(svc)s, %(v)s)", {"svc": down[0], "v": 0.999}),
            "impact": ("SELECT idgraph.impact_analysis(%(svc)s, %(v)s)", {"svc": up[0], "v": 0.99}),
            "composite_full": ("SELECT idgraph.composite_availability(%(svc)s, %(v)s, 'full')",
                               {"svc": down[0], "v": 0.999}),
            "impact_full": ("SELECT idgraph.impact_analysis(%(svc)s, %(v)s, 'full')", {"svc": up[0], "v": 0.99}),
        }
        cold_calls = ["composite", "impact"]
        # Cold: the first call in a fresh session (the backend loads the graph).
        cold = {k: [] for k in cold_calls}
        for i in range(a.cold_sessions):
            for k in (cold_calls if i % 2 == 0 else cold_calls[::-1]):
                q, p = calls[k]
                with self.connect() as c:
                    t0 = time.perf_counter_ns()
                    c.execute(q, p).fetchone()
                    cold[k].append(time.perf_counter_ns() - t0)
        # Warm: one session, alternating.
        warm = {k: [] for k in calls}
        facts = {}
        with self.connect() as c:
            for k, (q, p) in calls.items():
                for _ in range(3):
                    r = c.execute(q, p, prepare=True).fetchone()[0]
                facts[k] = {"bytes": len(r), **self.facts(k, json.loads(r))}
            for i in range(a.closure_calls):
                ks = list(calls)
                k0 = i % len(ks)
                for k in ks[k0:] + ks[:k0]:  # rotating order
                    q, p = calls[k]
                    t0 = time.perf_counter_ns()
                    c.execute(q, p, prepare=True).fetchone()
                    warm[k].append(time.perf_counter_ns() - t0)
            # Diagnostic: the bare closure traversals (depth 10) of the same services, to
            # separate traversal from the availability math and the JSON result.
            bare = {"composite": ("SELECT count(*) FROM idgraph.dependencies(%(svc)s, 'downstream', 10)", down[0]),
                    "impact": ("SELECT count(*) FROM idgraph.dependencies(%(svc)s, 'upstream', 10)", up[0])}
            bare_t = {k: [] for k in bare}
            for _ in range(max(10, a.closure_calls // 2)):
                for k, (q, svc) in bare.items():
                    t0 = time.perf_counter_ns()
                    c.execute(q, {"svc": svc}, prepare=True).fetchone()
                    bare_t[k].append(time.perf_counter_ns() - t0)
        out = {"services": n_services, "pick_seconds": pick_s,
               "composite": {"service": down[0], "closure": down[1], "target": 0.999, "detail": "summary"},
               "impact": {"service": up[0], "closure": up[1], "proposed": 0.99, "detail": "summary"},
               "composite_full": {"service": down[0], "closure": down[1], "target": 0.999, "detail": "full"},
               "impact_full": {"service": up[0], "closure": up[1], "proposed": 0.99, "detail": "full"}}
        for k in calls:
            base = k.removesuffix("_full")
            out[k].update({"warm": summary_ms(warm[k]), "bare_traversal": summary_ms(bare_t[base]), **facts[k]})
            if k in cold:
                out[k].update({"cold": summary_ms(cold[k]), "cold_all_ms": [x / 1e6 for x in cold[k]]})
            log(f"{k} on {out[k]['service']}: warm p50 {out[k]['warm']['p50_ms']:.2f} ms "
                f"p95 {out[k]['warm']['p95_ms']:.2f} ms"
                + (f"; cold median {out[k]['cold']['p50_ms']:.2f} ms max {out[k]['cold']['max_ms']:.2f} ms"
                   if k in cold else ""))
        return out

    @staticmethod
    def facts(kind, r):
        if kind.startswith("composite"):
            counts = r.get("counts")  # the summary counts what the full answer lists
            n = (lambda key: counts[key]) if counts else (lambda key: len(r.get(key) or []))
            return {"composite_availability": r.get("composite_availability"),
                    "hard_dependencies": n("hard_dependencies"), "excluded": n("excluded"),
                    "truncated": r.get("truncated"), "supernodes": n("supernodes"),
                    "top_risks": len(r.get("top_risks") or [])}
        return {"total_impacted": (r.get("summary") or {}).get("total_impacted"),
                "slos_at_risk": (r.get("summary") or {}).get("slos_at_risk"),
                "rows": len(r.get("impacted_services") or [])}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine(bench, root):
    m = {"nproc": os.cpu_count(), "kernel": os.uname().release,
         "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'"),
         "mem": sh("free -h | awk '/^Mem:/ {print $2}'"),
         "loadavg_start": open("/proc/loadavg").read().split()[:3],
         "git_head": sh(f"git -C {root} rev-parse --short HEAD"),
         "git_dirty": sh(f"git -C {root} status --porcelain -- sql pg_ext core") != ""}
    with bench.connect() as c:
        m["pg"] = c.execute("SHOW server_version").fetchone()[0]
        m["extversion"] = c.execute("SELECT extversion FROM pg_extension WHERE extname = 'idgraph'").fetchone()[0]
        m["settings"] = dict(c.execute(
            """SELECT name, current_setting(name) FROM pg_settings
                WHERE name IN ('shared_buffers', 'work_mem', 'jit', 'synchronous_commit', 'fsync',
                               'max_wal_size', 'random_page_cost') ORDER BY name""").fetchall())
        libdir = c.execute("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'").fetchone()[0]
    so = os.path.join(libdir, "idgraph.so")
    m["so_path"] = so
    m["so_mtime"] = os.stat(so).st_mtime if os.path.exists(so) else None
    return m


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", required=True)
    p.add_argument("--doc", required=True, help="ingest document (gen_graph.py output)")
    p.add_argument("--out", required=True)
    p.add_argument("--root", default=".")
    p.add_argument("--seed", type=int, default=int(os.environ.get("BENCH_SEED", 7)))
    p.add_argument("--ingest-runs", type=int, default=int(os.environ.get("BENCH_INGEST_RUNS", 3)))
    p.add_argument("--ingest-timeout", type=float, default=float(os.environ.get("BENCH_INGEST_TIMEOUT", 120)))
    p.add_argument("--ingest-slow", type=float, default=float(os.environ.get("BENCH_INGEST_SLOW", 20)))
    p.add_argument("--traversals", type=int, default=int(os.environ.get("BENCH_TRAVERSALS", 500)))
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--checks", type=int, default=10)
    p.add_argument("--closure-calls", type=int, default=int(os.environ.get("BENCH_CLOSURE_CALLS", 100)))
    p.add_argument("--cold-sessions", type=int, default=int(os.environ.get("BENCH_COLD_SESSIONS", 7)))
    args = p.parse_args()

    started = time.time()
    bench = Bench(args)
    doc = json.load(open(args.doc))
    result = {"started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "params": {k: v for k, v in vars(args).items() if k not in ("out", "root", "doc", "db")},
              "document": {"services": len(doc["nodes"]), "edges": len(doc["edges"]),
                           "bytes": os.path.getsize(args.doc), "source": doc["source"],
                           "timestamp": doc["timestamp"]},
              "machine": machine(bench, args.root)}
    log(f"document: {len(doc['nodes'])} services, {len(doc['edges'])} edges, "
        f"{result['document']['bytes'] / 1e6:.1f} MB")
    phases = [("ingest", lambda: bench.bench_ingest(doc)), ("traversal", bench.bench_traversal),
              ("closures", bench.bench_closures)]
    for name, fn in phases:
        t0 = time.time()
        try:
            result[name] = fn()
        except Exception as e:  # report what failed, keep the other phases
            log(f"{name}: FAILED: {type(e).__name__}: {e}")
            result[name] = {"error": f"{type(e).__name__}: {e}".strip()}
        result.setdefault("phase_seconds", {})[name] = time.time() - t0
    result["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    so = result["machine"]["so_path"]
    now_mtime = os.stat(so).st_mtime if os.path.exists(so) else None
    result["machine"]["so_changed_during_run"] = now_mtime != result["machine"]["so_mtime"]
    result["total_seconds"] = time.time() - started
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    failed = [k for k, _ in phases if "error" in result[k]]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
