"""Helpers the benches' report.py scripts share: key=value files, pgbench reports, and the
README section between a bench's markers."""
import os
import re


def kv(path):
    """key=value lines of a file as a dict of strings ({} when the file is missing)."""
    d = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    d[k] = v
    return d


def pgbench(path):
    """tps, latency average and stddev (ms), transactions and failures from a pgbench report."""
    text = open(path).read()

    def num(pattern):
        m = re.search(pattern, text, re.M)
        return float(m.group(1)) if m else None
    return {
        "tps": num(r"^tps = ([0-9.]+)"),
        "lat": num(r"^latency average = ([0-9.]+) ms"),
        "sd": num(r"^latency stddev = ([0-9.]+) ms"),
        "xacts": num(r"^number of transactions actually processed: (\d+)"),
        "failed": num(r"^number of failed transactions: (\d+)") or 0,
    }


NEW_README = ("# Benchmarks\n\n`make bench` runs every bench (`benches/run.sh` runs `benches/identity/run.sh`, "
              "then every other `benches/*/run.sh`) and rewrites its own section of this file between its "
              "markers; text outside the markers is kept.\n\n")


def write_section(readme, start, end, section):
    """Replaces the text between the markers (appends the section when they are missing)."""
    text = open(readme).read() if os.path.exists(readme) else NEW_README
    if start in text and end in text:
        text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(readme, "w") as f:
        f.write(text)


def pct(values, p):
    """Percentile by linear interpolation between closest ranks (p in 0..100); None if empty."""
    xs = sorted(values)
    if not xs:
        return None
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)
