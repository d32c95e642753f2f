#!/usr/bin/env python3
"""Exact betweenness on a CSV edge list (`src,dst`, header line) with the peer libraries
that are importable — python-igraph, networkit and (with --networkx, it is slow) networkx —
printing one JSON object per tool: {tool, version, seconds, n, m, directed, threads, sum, max}.

The graph is simplified first, as idgraph's CSR does: self loops dropped, a multi-edge
counted once (igraph would otherwise count parallel edges as distinct shortest paths).
`seconds` times the betweenness call only, not loading or graph construction. Unnormalized
values; `sum` and `max` let the runs be compared with each other and with idgraph (for an
undirected graph each unordered pair counts once; networkit's values, which count it from
both ends, are halved).

With --dump FILE, the per-node values of the first tool that ran are written there as JSON
({"tool": …, "values": [by node id]}), for report.py's check of idgraph's values.

Usage: peers.py EDGES.csv [--undirected] [--nodes N] [--networkx] [--dump FILE]
"""
import argparse
import importlib
import json
import os
import sys
import time


def load(path, undirected):
    pairs = set()
    top = -1
    with open(path) as f:
        next(f, None)
        for line in f:
            a, b = line.strip().split(",")[:2]
            a, b = int(a), int(b)
            top = max(top, a, b)
            if a == b:
                continue
            pairs.add((min(a, b), max(a, b)) if undirected else (a, b))
    return top + 1, sorted(pairs)


DUMPED = {}


def report(tool, version, seconds, n, edges, directed, threads, scores):
    DUMPED.setdefault("first", {"tool": tool, "version": version, "values": list(scores)})
    print(json.dumps({"tool": tool, "version": version, "seconds": round(seconds, 4), "n": n,
                      "m": len(edges), "directed": directed, "threads": threads,
                      "sum": sum(scores), "max": max(scores, default=0.0)}), flush=True)


def run_igraph(n, edges, directed):
    ig = importlib.import_module("igraph")
    g = ig.Graph(n=n, edges=edges, directed=directed)
    t = time.perf_counter()
    bc = g.betweenness(directed=directed)
    report("igraph", ig.__version__, time.perf_counter() - t, n, edges, directed, 1, bc)


def run_networkit(n, edges, directed):
    nk = importlib.import_module("networkit")
    g = nk.Graph(n, weighted=False, directed=directed)
    for a, b in edges:
        g.addEdge(a, b)
    t = time.perf_counter()
    bc = nk.centrality.Betweenness(g, normalized=False).run().scores()
    seconds = time.perf_counter() - t
    if not directed:
        # networkit counts an undirected pair from both ends; the others count it once.
        bc = [x / 2.0 for x in bc]
    report("networkit", nk.__version__, seconds, n, edges, directed,
           nk.getMaxNumberOfThreads(), bc)


def run_networkx(n, edges, directed):
    nx = importlib.import_module("networkx")
    g = nx.DiGraph() if directed else nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    t = time.perf_counter()
    bc = nx.betweenness_centrality(g, normalized=False)
    report("networkx", nx.__version__, time.perf_counter() - t, n, edges, directed, 1,
           list(bc.values()))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("edges")
    p.add_argument("--undirected", action="store_true")
    p.add_argument("--nodes", type=int, default=None,
                   help="node count (default: largest id + 1)")
    p.add_argument("--networkx", action="store_true", help="also run networkx (slow)")
    p.add_argument("--dump", help="write the first tool's per-node values here (JSON)")
    a = p.parse_args()
    n, edges = load(a.edges, a.undirected)
    if a.nodes is not None:
        n = max(n, a.nodes)
    runners = [("igraph", run_igraph), ("networkit", run_networkit)]
    if a.networkx:
        runners.append(("networkx", run_networkx))
    for name, run in runners:
        try:
            run(n, edges, not a.undirected)
        except (ImportError, OSError) as e:
            print(json.dumps({"tool": name, "skipped": f"not importable: {e}"}), flush=True)
    if a.dump and "first" in DUMPED:
        with open(a.dump, "w") as f:
            json.dump(DUMPED["first"], f)
    print(f"cpus: {os.cpu_count()}", file=sys.stderr)


if __name__ == "__main__":
    main()
