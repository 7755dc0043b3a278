"""How long a writer waits for SQLite's write lock that another process holds, and what that costs.

Two (or ``--processes``) processes write to one WAL database the way ``okno serve`` and
``okno worker`` do in the split deployment: each in a loop takes the write lock (``BEGIN
IMMEDIATE``), holds it for ``--hold-ms`` of work (inserts), commits, then works
``--gap-ms`` outside the lock (what answering requests or reading the next batch costs).
Each process counts its transactions and the time every ``BEGIN IMMEDIATE`` waited.

Two ways of waiting are compared on the same load:

* **sqlite**: SQLite's own busy handler (``PRAGMA busy_timeout``), which sleeps 1, 2, 5, 10, 15,
  20, 25, 25, 25, 50, 50, 100, 100 … ms between its tries however soon the lock is free again;
* **okno**: ``okno.kit.sqlite_driver._begin_patiently``, which okno's writer connection uses
  whenever its first no-wait try finds the lock taken: a try every ``LOCK_POLL_SECONDS``.

    .venv/bin/python bench/sqlite_lock_handoff.py
    .venv/bin/python bench/sqlite_lock_handoff.py --seconds 5 --hold-ms 2 --gap-ms 1

A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from okno.kit.sqlite_driver import LOCK_POLL_SECONDS, _begin_patiently, _begin_without_waiting

BUSY_TIMEOUT_MS = 10_000
RESTORE_WAIT = f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}"


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _writer(path: str, how: str, seconds: float, hold_s: float, gap_s: float, start: float, out: multiprocessing.Queue) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous=NORMAL")
    waits: list[float] = []
    while time.time() < start:
        time.sleep(0.001)
    end = start + seconds
    while time.time() < end:
        asked = time.perf_counter()
        if how == "okno":  # as okno's writer: a first try in place with no wait, then the patient one
            if not _begin_without_waiting(conn, "BEGIN IMMEDIATE", RESTORE_WAIT):
                _begin_patiently(conn, "BEGIN IMMEDIATE", RESTORE_WAIT)
        else:
            conn.execute("BEGIN IMMEDIATE")
        waits.append(time.perf_counter() - asked)
        conn.execute("INSERT INTO t (payload) VALUES (?)", ("x" * 200,))
        _spin(hold_s)
        conn.execute("COMMIT")
        _spin(gap_s)
    conn.close()
    out.put(waits)


def run(how: str, processes: int, seconds: float, hold_ms: float, gap_ms: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="okno-lock-") as tmp:
        path = str(Path(tmp) / "lock.db")
        setup = sqlite3.connect(path, isolation_level=None)
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT)")
        setup.close()
        out: multiprocessing.Queue = multiprocessing.Queue()
        start = time.time() + 0.5
        workers = [
            multiprocessing.Process(target=_writer, args=(path, how, seconds, hold_ms / 1000, gap_ms / 1000, start, out))
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        waits = [w for _ in workers for w in out.get()]
        for worker in workers:
            worker.join()
    waits.sort()
    ms = [w * 1000 for w in waits]
    return {
        "tx_per_s": len(ms) / seconds,
        "p50": statistics.median(ms),
        "p99": ms[int(len(ms) * 0.99)],
        "max": ms[-1],
        "lock_busy": min(1.0, len(ms) * hold_ms / 1000 / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--hold-ms", type=float, default=1.0, help="work done while holding the write lock (default 1 ms)")
    parser.add_argument("--gap-ms", type=float, default=0.5, help="work done between transactions (default 0.5 ms)")
    args = parser.parse_args()
    print(f"{args.processes} processes, {args.seconds:g} s each way, {args.hold_ms:g} ms held + {args.gap_ms:g} ms outside "
          f"the lock per transaction; okno retries every {LOCK_POLL_SECONDS * 1000:g} ms\n")
    print(f"{'waiting by':12}{'tx/s':>10}{'lock held':>11}{'wait p50 ms':>13}{'p99 ms':>9}{'max ms':>9}")
    for how in ("sqlite", "okno"):
        r = run(how, args.processes, args.seconds, args.hold_ms, args.gap_ms)
        print(f"{how:12}{r['tx_per_s']:>10,.0f}{r['lock_busy']:>11.0%}{r['p50']:>13.2f}{r['p99']:>9.2f}{r['max']:>9.2f}")
    ideal = 1000 / args.hold_ms
    print(f"\nthe lock alone allows at most {ideal:,.0f} tx/s ({args.hold_ms:g} ms each, back to back)")


if __name__ == "__main__":
    main()
