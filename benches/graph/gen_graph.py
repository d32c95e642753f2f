#!/usr/bin/env python3
"""Seeded generator of a layered service dependency graph, as an FR-1 ingest document.

Layers, like real service graphs: gateways -> frontends -> domain services -> platform ->
data stores, plus external SaaS dependencies and a few short cycles among domain
services. Usage: gen_graph.py [--services 5000] [--edges 50000] [--seed 42] > doc.json
"""
import argparse
import json
import random


def generate(n_services: int, n_edges: int, seed: int) -> dict:
    rng = random.Random(seed)
    shares = [("gateway", 0.01), ("frontend", 0.09), ("domain", 0.55), ("platform", 0.20),
              ("datastore", 0.12), ("external", 0.03)]
    layers = {}
    nodes = []
    i = 0
    for name, share in shares:
        count = max(2, int(n_services * share))
        ids = [f"{name}-{k:05d}" for k in range(count)]
        layers[name] = ids
        for sid in ids:
            node = {"service_id": sid,
                    "metadata": {"team": f"team-{rng.randrange(40):02d}", "tier": name,
                                 "criticality": rng.choice(["critical", "high", "medium", "low"])}}
            if name == "external":
                node["kind"] = "external"
                node["published_sla"] = rng.choice([0.999, 0.9995, 0.9999])
            else:
                node["availability"] = round(rng.uniform(0.995, 0.99999), 6)
            nodes.append(node)
        i += count
    order = ["gateway", "frontend", "domain", "platform", "datastore"]
    edges = {}

    def add(src, dst, **attrs):
        if src != dst and (src, dst) not in edges:
            edges[(src, dst)] = attrs

    def attrs():
        mode = "async" if rng.random() < 0.15 else "sync"
        crit = rng.choices(["hard", "soft", "degraded"], [0.75, 0.15, 0.10])[0]
        a = {"communication_mode": mode, "criticality": crit,
             "protocol": "kafka" if mode == "async" else rng.choice(["grpc", "http"]),
             "timeout_ms": rng.choice([100, 250, 500, 1000, 5000])}
        if rng.random() < 0.03:
            a["redundancy_group"] = f"rg-{rng.randrange(200)}"
        return a

    # Every service in a layer depends on something in the next layers; then fill up.
    weights = [(0, 1, 0.10), (1, 2, 0.30), (2, 2, 0.20), (2, 3, 0.20), (2, 4, 0.10), (3, 4, 0.10)]
    for li, name in enumerate(order[:-1]):
        for sid in layers[name]:
            add(sid, rng.choice(layers[order[li + 1]]), **attrs())
    guard = 0
    while len(edges) < n_edges - 60 and guard < n_edges * 20:
        guard += 1
        a, b, _ = rng.choices(weights, [w for _, _, w in weights])[0]
        src = rng.choice(layers[order[a]])
        if a == 2 and b == 2:
            # Domain-to-domain only "downhill" by index, so cycles stay few and short.
            dst_i = rng.randrange(len(layers["domain"]))
            src_i = int(src.split("-")[1])
            if dst_i <= src_i:
                continue
            dst = layers["domain"][dst_i]
        else:
            dst = rng.choice(layers[order[b]])
        add(src, dst, **attrs())
    # Externals used by domain and platform services.
    for _ in range(min(50, n_edges // 100)):
        add(rng.choice(layers["domain"] + layers["platform"]), rng.choice(layers["external"]),
            communication_mode="sync", criticality="hard", protocol="http", timeout_ms=2000)
    # A few short cycles (2- and 3-cycles) among domain services.
    dom = layers["domain"]
    for _ in range(5):
        a, b, c = rng.sample(dom, 3)
        add(a, b, **attrs()); add(b, a, communication_mode="sync", criticality="hard")
        add(a, b, **attrs()); add(b, c, communication_mode="sync", criticality="hard")
        add(c, a, communication_mode="sync", criticality="hard")
    return {
        "source": "otel_service_graph",
        "timestamp": "2026-11-24T10:00:00Z",
        "nodes": nodes,
        "edges": [{"source": s, "target": t, "attributes": a} for (s, t), a in edges.items()],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--services", type=int, default=5000)
    p.add_argument("--edges", type=int, default=50000)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    json.dump(generate(args.services, args.edges, args.seed), __import__("sys").stdout, separators=(",", ":"))


if __name__ == "__main__":
    main()
