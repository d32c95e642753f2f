#!/usr/bin/env python3
"""Writes the reference data checked in under core/tests/data: a seeded 2,000-node
directed preferential-attachment graph and its exact directed betweenness as computed by
networkx (normalized=False). Re-run only to regenerate: python3 make_reference.py OUTDIR"""
import random
import sys

import networkx as nx

out = sys.argv[1] if len(sys.argv) > 1 else "core/tests/data"
rng = random.Random(2026)
ug = nx.barabasi_albert_graph(2000, 3, seed=7)
d = nx.DiGraph()
d.add_nodes_from(range(2000))
for u, v in ug.edges():
    a, b = (u, v) if rng.random() < 0.5 else (v, u)
    d.add_edge(a, b)
    if rng.random() < 0.3:
        d.add_edge(b, a)
bc = nx.betweenness_centrality(d, normalized=False)
with open(f"{out}/ref2000_edges.csv", "w") as f:
    f.write("src,dst\n")
    for a, b in sorted(d.edges()):
        f.write(f"{a},{b}\n")
with open(f"{out}/ref2000_betweenness_networkx.csv", "w") as f:
    f.write("node,betweenness\n")
    for v in range(2000):
        f.write(f"{v},{bc[v]!r}\n")
print(f"{d.number_of_nodes()} nodes, {d.number_of_edges()} edges")
