#!/usr/bin/env python3
"""Seeded Barabási–Albert generator, pure Python (no networkx), writing a CSV edge list.

Growth with preferential attachment, as in Barabási & Albert (1999) and networkx's
`barabasi_albert_graph`: start from a star on m + 1 nodes, then every new node links to m
distinct existing nodes picked with probability proportional to their degree.

Edges are written `src,dst` with the new node as `src` (a newcomer depends on established
services), which makes a DAG. `--flip P` reverses each edge with probability P and
`--reciprocal P` also adds the reverse edge with probability P, so that directed shortest
paths reach most of the graph (the harder case for directed betweenness). The same seed
and options always give the same file.

Usage: gen_ba.py [--nodes 10000] [--m 5] [--seed 1] [--flip 0] [--reciprocal 0] [--out FILE]
"""
import argparse
import random
import sys


def barabasi_albert(n: int, m: int, seed: int, flip: float = 0.0, reciprocal: float = 0.0):
    """Directed edges (src, dst) of a seeded BA graph on n nodes, in generation order."""
    if m < 1 or n <= m:
        raise ValueError(f"need 1 <= m < n, got m={m}, n={n}")
    rng = random.Random(seed)
    # Star on nodes 0..m, centre 0.
    undirected = [(leaf, 0) for leaf in range(1, m + 1)]
    # Each node appears once per incident edge: uniform picks from this list are
    # degree-proportional.
    repeated = [0] * m + list(range(1, m + 1))
    for new in range(m + 1, n):
        targets = set()
        while len(targets) < m:
            targets.add(rng.choice(repeated))
        for t in sorted(targets):
            undirected.append((new, t))
            repeated.append(t)
        repeated.extend([new] * m)
    edges = []
    for a, b in undirected:
        if rng.random() < flip:
            a, b = b, a
        edges.append((a, b))
        if rng.random() < reciprocal:
            edges.append((b, a))
    return edges


def write_csv(edges, out):
    out.write("src,dst\n")
    for a, b in edges:
        out.write(f"{a},{b}\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=10000)
    p.add_argument("--m", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--flip", type=float, default=0.0)
    p.add_argument("--reciprocal", type=float, default=0.0)
    p.add_argument("--out", default="-")
    a = p.parse_args()
    edges = barabasi_albert(a.nodes, a.m, a.seed, a.flip, a.reciprocal)
    if a.out == "-":
        write_csv(edges, sys.stdout)
    else:
        with open(a.out, "w") as f:
            write_csv(edges, f)
    print(f"{a.nodes} nodes, {len(edges)} edges", file=sys.stderr)


if __name__ == "__main__":
    main()
