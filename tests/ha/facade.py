#!/usr/bin/python3
"""The HTTPS facade on the Patroni cluster (run by tests/ha/faults.sh, which starts it with
multi-host URLs: writes on target_session_attrs=read-write, reads on read-only).

1. Read your writes: replay is paused on both standbys (Patroni paused meanwhile), so the read pool's replica falls
   behind. A principal that just allocated resolves its id at once: 200 with the same
   integer every time (its reads go to the primary). Another principal that never wrote
   reads from the stale replica and gets 404 for that id: the rule, not luck, made the
   first one pass. /health/ready and /metrics report the lag; after replay resumes, the
   other principal resolves the id too.
2. The standby the read pool is on killed (kill -9) under reads through the facade: every
   read answers 200 (a failed replica read is retried on the primary).
3. The primary killed (kill -9) under allocation load through the facade: every answer is
   2xx or 503 with Retry-After (never a 500 or another status), the facade reconnects to
   the new primary by itself, every acknowledged allocation resolves to the same integer
   on the new primary, and the time from the kill to the first acknowledged allocation is
   printed as a figure.
"""
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import psycopg2

sys.path.insert(0, os.path.dirname(__file__))
import faults  # noqa: E402  (the cluster helpers and the checks)

BASE = os.environ["HA_FACADE_URL"]
WRITER_KEY = os.environ["HA_FACADE_WRITER_KEY"]
READER_KEY = os.environ["HA_FACADE_READER_KEY"]
TABLE, COLUMN = "ha.tbl_items", "item_id"


def call(method, path, key=None, body=None, timeout=10):
    """(status, headers, json or None) — never raises for an HTTP status."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if key:
        req.add_header("X-API-Key", key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, r.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return e.code, e.headers, doc
    except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
        return None, {}, {"error": str(e)}


def new_submission(key):
    st, _, doc = call("POST", "/api/v1/identity/submissions", key,
                      {"submission_name": f"ha-facade-{uuid.uuid4()}", "source_system": "ha-test",
                       "data_type": "items"})
    if st != 201:
        raise SystemExit(f"FAIL: create submission answered {st} {doc}")
    return doc["submission_uuid"]


def allocate(key, sub, ext):
    return call("POST", f"/api/v1/identity/submissions/{sub}/allocations", key,
                {"table_name": TABLE, "column_name": COLUMN, "external_id": ext})


def resolve(key, ext):
    return call("GET", f"/api/v1/identity/resolve?table_name={TABLE}&column_name={COLUMN}&external_id={ext}", key)


def standbys():
    return [i for i in range(3) if i != faults.leader()]


def patronictl(*args):
    import subprocess
    r = subprocess.run(["patronictl", "-c", os.path.join(faults.HA_DIR, "node1", "patroni.yml"), *args],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        faults.fail(f"patronictl {' '.join(args)}: {r.stdout} {r.stderr}")


def set_replay(paused):
    # Patroni resumes a paused replay by itself: its management is paused meanwhile.
    if paused:
        patronictl("pause", "--wait")
    for i in standbys():
        c = psycopg2.connect(f"host={faults.ADDRS[i]} port={faults.PG_PORTS[i]} dbname=idgraph user=postgres connect_timeout=2")
        c.autocommit = True
        c.cursor().execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")
        c.close()
    if not paused:
        patronictl("resume", "--wait")


def read_your_writes():
    sub = new_submission(WRITER_KEY)
    set_replay(True)
    try:
        time.sleep(0.5)
        n_ok = 0
        exts = []
        for _ in range(20):
            ext = str(uuid.uuid4())
            st, _, a = allocate(WRITER_KEY, sub, ext)
            if st not in (200, 201):
                faults.fail(f"facade: allocation answered {st} {a}")
                continue
            st, _, r = resolve(WRITER_KEY, ext)
            if st != 200 or r["alloc_integer_id"] != a["alloc_integer_id"]:
                faults.fail(f"facade: resolve right after allocate answered {st} {r}")
            else:
                n_ok += 1
            exts.append(ext)
        print(f"facade: {n_ok} of 20 resolves right after an allocate answered the integer, replay paused", flush=True)
        if not exts:
            return
        st, _, r = resolve(READER_KEY, exts[-1])
        if st != 404:
            faults.fail(f"facade: a principal that never wrote got {st} from the paused replica, expected 404 "
                        "(reads do not reach the replica?)")
        else:
            print("facade: a principal that never wrote reads the paused replica (404 for the fresh id)", flush=True)
        st, _, ready = call("GET", "/health/ready")
        lag = (ready or {}).get("replica_lag") or {}
        print(f"facade: /health/ready while paused: {st} replica={ready.get('replica') if ready else None} "
              f"lag={lag}", flush=True)
        if st != 200 or not lag.get("standby") or lag.get("lag_bytes", 0) <= 0:
            faults.fail(f"facade: /health/ready does not report the replica lag: {ready}")
        with urllib.request.urlopen(BASE + "/metrics", timeout=5) as m:
            text = m.read().decode()
        line = [x for x in text.splitlines() if x.startswith("idgraph_facade_replica_lag_bytes ")]
        if not line or int(float(line[0].split()[1])) <= 0:
            faults.fail(f"facade: /metrics has no positive replica lag: {line}")
        else:
            print(f"facade: /metrics: {line[0]}", flush=True)
    finally:
        set_replay(False)
    end = time.time() + 20
    while exts and time.time() < end:
        st, _, r = resolve(READER_KEY, exts[-1])
        if st == 200:
            print("facade: after replay resumed, the other principal resolves the id too", flush=True)
            return exts
        time.sleep(0.2)
    faults.fail("facade: the replica did not catch up within 20 s")
    return exts


def replica_lost_under_facade(exts):
    """Reads through the facade while the standby its read pool is on is killed: all 200."""
    if not exts:
        return
    statuses, lock, stop = {}, threading.Lock(), threading.Event()

    def reader():
        k = 0
        while not stop.is_set():
            k += 1
            st, _, r = resolve(READER_KEY, exts[k % len(exts)])
            with lock:
                statuses[st] = statuses.get(st, 0) + 1
            if st != 200:
                faults.fail(f"facade: a read answered {st} while a replica was lost: {r}")
                time.sleep(0.1)

    ts = [threading.Thread(target=reader) for _ in range(3)]
    for t in ts:
        t.start()
    time.sleep(2)
    on = []
    for i in standbys():
        c = psycopg2.connect(f"host={faults.ADDRS[i]} port={faults.PG_PORTS[i]} dbname=idgraph user=postgres connect_timeout=2")
        cur = c.cursor()
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'ha_facade'")
        on.append((cur.fetchone()[0], i))
        c.close()
    n, victim = max(on)
    os.kill(faults.postmaster_pid(victim), 9)
    time.sleep(6)
    stop.set()
    for t in ts:
        t.join(timeout=30)
    print(f"facade: reads while replica {faults.NODES[victim]} (with {n} facade connections) was killed: "
          f"{statuses}", flush=True)
    if faults.wait_whole(90) is None:
        faults.fail("facade: the replica did not come back within 90 s")


def kill_under_facade():
    sub = new_submission(WRITER_KEY)
    acks, ack_times, statuses = {}, [], {}
    stop = threading.Event()
    lock = threading.Lock()

    def writer():
        while not stop.is_set():
            ext = str(uuid.uuid4())
            st, h, doc = allocate(WRITER_KEY, sub, ext)
            with lock:
                statuses[st] = statuses.get(st, 0) + 1
                if st in (200, 201):
                    acks[ext] = doc["alloc_integer_id"]
                    ack_times.append(time.time())
            if st == 503:
                if not h.get("Retry-After"):
                    faults.fail("facade: a 503 without Retry-After")
                time.sleep(0.2)
            elif st not in (200, 201):
                faults.fail(f"facade: allocation answered {st} {doc}")
                time.sleep(0.2)

    ts = [threading.Thread(target=writer) for _ in range(4)]
    for t in ts:
        t.start()
    time.sleep(4)
    old = faults.leader()
    t_kill = time.time()
    os.kill(faults.postmaster_pid(old), 9)
    first = None
    end = time.time() + 60
    while time.time() < end and first is None:
        with lock:
            after = [t for t in ack_times if t > t_kill + 0.05]
        first = min(after) if after else None
        time.sleep(0.1)
    time.sleep(3)
    stop.set()
    for t in ts:
        t.join(timeout=30)
    print(f"facade: statuses under the kill: {statuses}", flush=True)
    if first is None:
        faults.fail("facade: no allocation succeeded through the facade within 60 s of the kill")
    else:
        print(f"figure: facade, kill -9 primary: {first - t_kill:.1f} s from the kill to the first acknowledged "
              f"allocation through the facade (503 + Retry-After meanwhile)", flush=True)

    class Acks:
        pass
    a = Acks()
    a.acks, a.errors = acks, {k: v for k, v in statuses.items() if k not in (200, 201)}
    faults.check("facade", a)
    if faults.wait_whole(90) is None:
        faults.fail("facade: the cluster is not whole again within 90 s")


def main():
    if faults.wait_whole(60) is None:
        raise SystemExit("FAIL: the cluster is not whole")
    exts = read_your_writes()
    replica_lost_under_facade(exts)
    kill_under_facade()
    if faults.failures:
        print(f"facade: {len(faults.failures)} failures", flush=True)
        sys.exit(1)
    print("facade: ok", flush=True)


if __name__ == "__main__":
    main()
