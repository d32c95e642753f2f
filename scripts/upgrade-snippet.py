#!/usr/bin/env python3
"""Prints, for the upgrade script, the current definition of SQL objects kept in sql/*.sql.

  scripts/upgrade-snippet.py idgraph.set_slo idgraph._actor ...
  scripts/upgrade-snippet.py --pgrx GENERATED.sql api::actor::set_principal ...

The second form prints the CREATE FUNCTION of a Rust function as pgrx generated it (in the
install script `cargo pgrx schema` or `make install` wrote), as CREATE OR REPLACE.

For each name: its CREATE FUNCTION statement (as CREATE OR REPLACE FUNCTION, so it works
on a function that exists and one that does not) and its COMMENT ON FUNCTION, exactly as
the fresh install has them, so that the upgraded definition is byte for byte the fresh
one (tests/upgrade.sh compares them). A function defined twice (overloads) prints both.
"""
import re
import sys
from pathlib import Path

SQL = Path(__file__).resolve().parent.parent / "sql"


def statements(text):
    """Splits SQL text into statements, honouring $tag$ quoting, '...' and -- comments."""
    out, start, i, n = [], 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "-" and text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if c == "'":
            j = i + 1
            while j < n:
                if text[j] == "'" and text.startswith("''", j):
                    j += 2
                    continue
                if text[j] == "'":
                    break
                j += 1
            i = j + 1
            continue
        if c == "$":
            m = re.match(r"\$[A-Za-z_]*\$", text[i:])
            if m:
                tag = m.group(0)
                j = text.find(tag, i + len(tag))
                i = n if j < 0 else j + len(tag)
                continue
        if c == ";":
            out.append(text[start : i + 1])
            start = i + 1
        i += 1
    return out


def pgrx(generated, paths):
    text = Path(generated).read_text()
    for path in paths:
        m = re.search(r"^-- idgraph::" + re.escape(path) + r"\n(.*?^AS 'MODULE_PATHNAME', '[^']+';)$", text, re.S | re.M)
        if not m:
            sys.exit(f"upgrade-snippet: no pgrx function idgraph::{path} in {generated}")
        print("-- idgraph::" + path)
        print(re.sub(r"^CREATE\s+FUNCTION", "CREATE OR REPLACE FUNCTION", m.group(1), flags=re.M))


def main(names):
    files = sorted(p for p in SQL.glob("*.sql") if "--" not in p.name)
    stmts = [s for p in files for s in statements(p.read_text())]
    for name in names:
        pat = re.escape(name) + r"\s*\("
        found = False
        for s in stmts:
            body = s.lstrip("\n")
            # drop leading comment lines
            lines = body.split("\n")
            while lines and (lines[0].startswith("--") or not lines[0].strip()):
                lines.pop(0)
            body = "\n".join(lines)
            if re.match(r"CREATE (OR REPLACE )?FUNCTION " + pat, body):
                print(re.sub(r"^CREATE (OR REPLACE )?FUNCTION", "CREATE OR REPLACE FUNCTION", body))
                found = True
            elif re.match(r"COMMENT ON FUNCTION " + pat, body):
                print(body)
        if not found:
            sys.exit(f"upgrade-snippet: no CREATE FUNCTION {name} in sql/*.sql")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--pgrx"]:
        pgrx(sys.argv[2], sys.argv[3:])
    else:
        main(sys.argv[1:])
