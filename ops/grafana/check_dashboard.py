#!/usr/bin/env python3
"""Checks a Grafana dashboard against the metrics the facade exports.

Usage: check_dashboard.py DASHBOARD.json METRICS.txt [PROMETHEUS_URL]

METRICS.txt is a /metrics answer of the facade (Prometheus text format); its `# TYPE`
lines name the families (a histogram also exports NAME_bucket, NAME_sum, NAME_count).
Every panel target's expression must name only those metrics, or ones listed in
PENDING below with the reason they are not exported yet. With PROMETHEUS_URL, every
expression is also evaluated there (Grafana's $__rate_interval and $__range replaced)
and must answer with data unless it names a pending metric.

Metric names are found by a small PromQL scanner: strings, label matchers `{...}`,
durations `[...]`, the label lists of by/without/on/ignoring/group_left/group_right
and function names (an identifier followed by `(`) are not metric names; keywords and
numbers are not either.
"""

import json
import re
import sys
import urllib.parse
import urllib.request

# Metrics a panel may name before the facade exports them, and why.
PENDING = {}

KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan", "atan2",
}
LABEL_LIST_OPS = ("by", "without", "on", "ignoring", "group_left", "group_right")
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr):
    """The metric names a PromQL expression selects."""
    s = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    s = re.sub(r"'(?:\\.|[^'\\])*'", "''", s)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(%s)\s*\([^)]*\)" % "|".join(LABEL_LIST_OPS), " ", s)
    names = set()
    for m in IDENT.finditer(s):
        word = m.group(0)
        start, end = m.span()
        if start > 0 and (s[start - 1].isdigit() or s[start - 1] in ".$"):
            continue  # part of a number (1e3) or a Grafana variable
        rest = s[end:].lstrip()
        if rest.startswith("("):
            continue  # a function
        if word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def exported(metrics_text):
    names = set()
    for line in metrics_text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "#" and parts[1] == "TYPE":
            name, kind = parts[2], parts[3]
            names.add(name)
            if kind == "histogram":
                names.update({name + "_bucket", name + "_sum", name + "_count"})
            elif kind == "summary":
                names.update({name + "_sum", name + "_count"})
    return names


def panels(dash):
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])


def query(prom, expr):
    expr = expr.replace("$__rate_interval", "1m").replace("$__range", "5m").replace("$__interval", "15s")
    url = prom.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        doc = json.load(r)
    if doc.get("status") != "success":
        raise RuntimeError(f"{expr}: {doc}")
    return doc["data"]["result"]


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        dash = json.load(f)
    with open(sys.argv[2]) as f:
        have = exported(f.read())
    prom = sys.argv[3] if len(sys.argv) == 4 else None
    failures, checked = [], 0
    for p in panels(dash):
        for t in p.get("targets", []):
            expr = t.get("expr")
            if not expr:
                continue
            checked += 1
            names = metric_names(expr)
            if not names:
                failures.append(f"panel {p['title']!r}: no metric in {expr!r}")
            missing = sorted(n for n in names if n not in have and n not in PENDING)
            if missing:
                failures.append(f"panel {p['title']!r}: {expr!r} names {missing}, not exported by the facade")
            pending = sorted(n for n in names if n in PENDING and n not in have)
            for n in pending:
                print(f"  pending: panel {p['title']!r} names {n}: {PENDING[n]}")
            if prom and not pending:
                result = query(prom, expr)
                if not result:
                    failures.append(f"panel {p['title']!r}: {expr!r} answers no data in Prometheus")
    for f in failures:
        print("FAIL " + f)
    print(f"dashboard: {checked} queries checked, {len(failures)} failures")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
