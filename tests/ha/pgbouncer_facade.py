#!/usr/bin/python3
"""The facade behind PgBouncer in transaction pooling (run by tests/ha/pgbouncer.sh, which
starts a facade with DATABASE_URL on PgBouncer and IDGRAPH_DATABASE_POOLER=transaction,
and pgbench clients on the same PgBouncer pool that set no principal at all).

Threads allocate through the facade with two API keys of two teams at once; every call
is one transaction on whatever server connection PgBouncer hands out, shared with the
pgbench clients. Afterwards every audit row carries the actor of the request or session
that made it: a facade allocation its key's principal and team, a pgbench allocation the
session user, never another's. Every answer is 201/200; a resolve right after an
allocate answers the same integer.
"""
import os
import sys
import threading
import uuid

import psycopg2

sys.path.insert(0, os.path.dirname(__file__))
import facade  # noqa: E402  (call, new_submission, allocate, resolve)
import faults  # noqa: E402

RUN = os.environ["HA_PGB_RUN"]
KEYS = {"a": (os.environ["HA_PGB_KEY_A"], "ha"), "b": (os.environ["HA_PGB_KEY_B"], "ha-b")}
THREADS = int(os.environ.get("HA_PGB_FACADE_THREADS", "16"))
CALLS = int(os.environ.get("HA_PGB_FACADE_CALLS", "25"))


def key_id(key):
    return key[len("idg_live_"):].split("_", 1)[0]


def worker(k, results):
    name = "a" if k % 2 == 0 else "b"
    key, _team = KEYS[name]
    sub = facade.new_submission(key)
    for n in range(CALLS):
        ext = f"pgbf-{RUN}-{name}-{k}-{n}"
        st, _, doc = facade.call("POST", f"/api/v1/identity/submissions/{sub}/allocations", key,
                                 {"table_name": facade.TABLE, "column_name": facade.COLUMN,
                                  "external_id": ext, "external_id_type": "natural_key"})
        if st not in (200, 201):
            faults.fail(f"bounced facade: allocate answered {st} {doc}")
            continue
        got = doc.get("alloc_integer_id")
        st2, _, doc2 = facade.call("GET", f"/api/v1/identity/resolve?table_name={facade.TABLE}"
                                   f"&column_name={facade.COLUMN}&external_id={ext}&external_id_type=natural_key", key)
        if st2 != 200 or doc2.get("alloc_integer_id") != got:
            faults.fail(f"bounced facade: resolve right after allocate answered {st2} {doc2}, allocated {got}")
        results.append(ext)


def main():
    results = []
    threads = [threading.Thread(target=worker, args=(k, results)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=150)
    conn = psycopg2.connect(os.environ["HA_RW"] + " user=postgres")
    cur = conn.cursor()
    cur.execute("""SELECT split_part(a.external_id, '-', 3), a.actor, s.created_by_team
                     FROM idgraph.audit_log a JOIN idgraph.submissions s ON s.submission_id = a.submission_id
                    WHERE a.action = 'allocate' AND a.external_id LIKE %s""", (f"pgbf-{RUN}-%",))
    rows = cur.fetchall()
    wrong = [(w, actor) for w, actor, _ in rows if actor != f"key:{key_id(KEYS[w][0])}"]
    teams = [(w, team) for w, _, team in rows if team != KEYS[w][1]]
    print(f"bounced facade: {len(results)} allocations over HTTP through PgBouncer, {len(rows)} audit rows, "
          f"{len(wrong)} with another principal, {len(teams)} submissions with another team", flush=True)
    if len(rows) != THREADS * CALLS or len(results) != THREADS * CALLS:
        faults.fail(f"bounced facade: {len(results)} acknowledged and {len(rows)} audited of {THREADS * CALLS}")
    if wrong:
        faults.fail(f"bounced facade: audit rows with another request's principal: {wrong[:3]}")
    if teams:
        faults.fail(f"bounced facade: submissions with another request's team: {teams[:3]}")
    if faults.failures:
        sys.exit(1)
    print("bounced facade: ok", flush=True)


if __name__ == "__main__":
    main()
