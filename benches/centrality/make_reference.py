#!/usr/bin/env python3
"""Writes the reference data checked in under core/tests/data, read by
core/tests/betweenness_reference.rs:

- ba2000_edges.csv: `src,dst`, a 2,000-node Barabási–Albert graph (m = 5, seed 2026) from
  gen_ba.py, each edge reversed with probability 0.5 and reciprocated with probability
  0.3, so directed shortest paths reach most of the graph;
- ba2000_betweenness_networkx.csv: `node,directed,undirected`, exact unnormalized
  betweenness computed by networkx: `directed` on the DiGraph (ordered pairs, paths follow
  edges), `undirected` on the same edges as a Graph (unordered pairs).

Re-run only to regenerate: python3 make_reference.py [OUTDIR]   (default core/tests/data)
"""
import os
import sys

import networkx as nx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_ba import barabasi_albert, write_csv  # noqa: E402

N, M, SEED = 2000, 5, 2026


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "core/tests/data"
    edges = barabasi_albert(N, M, SEED, flip=0.5, reciprocal=0.3)
    d = nx.DiGraph()
    d.add_nodes_from(range(N))
    d.add_edges_from(edges)
    u = nx.Graph(d)
    directed = nx.betweenness_centrality(d, normalized=False)
    undirected = nx.betweenness_centrality(u, normalized=False)
    with open(f"{out}/ba2000_edges.csv", "w") as f:
        write_csv(edges, f)
    with open(f"{out}/ba2000_betweenness_networkx.csv", "w") as f:
        f.write("node,directed,undirected\n")
        for v in range(N):
            f.write(f"{v},{directed[v]!r},{undirected[v]!r}\n")
    print(f"networkx {nx.__version__}: {N} nodes, {d.number_of_edges()} directed edges, "
          f"{u.number_of_edges()} undirected", file=sys.stderr)


if __name__ == "__main__":
    main()
