"""Analytics on this machine: plays the ground-truth plan (okno.reports.ground_truth) through an
okno app in-process (API-channel webhooks, REST replies, survey events; okno.reports.runner),
checks the summary against the plan, and prints the play rate, the projection lag (how long the
relay spends per event, with every subscriber, while the play's backlog is drained every 50 actions) and the summary endpoint's latency p50/p95.

    .venv/bin/python bench/analytics.py [--conversations N] [--database-url URL] [--calls K]
    .venv/bin/python bench/analytics.py --bulk 1000000 --database-url postgresql+asyncpg://…/empty_db [--ingest-seconds S]

``--bulk N`` (PostgreSQL) loads N conversations' projection rows in bulk instead of playing them
(``bench/analytics_bulk.py``) and prints the summary endpoint's latency p50/p95 at that size (and
the time series and operators reports') and the projection's lag while webhooks arrive at full
speed; ``--loaded`` reuses a base an earlier run loaded (migrated to head first: a new migration
fills its new columns). ``bench/analytics_explain.py`` prints the plans of the summary's statements
(``--cpu K``: the CPU the PostgreSQL backend and this process spend per call).

Without ``--database-url`` it uses a fresh SQLite file; for PostgreSQL give an empty database.
A script that prints figures, not a test. The machine is shared: timings vary with its load.
"""

from __future__ import annotations

import importlib.util
import os
import sys

# no script of this folder may shadow a standard-library module (an email.py once hid ``email``,
# which httpx imports): drop the folder from the path and load the bulk loader by its file
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402

from okno.reports.runner import run_ground_truth  # noqa: E402


def _bulk_module():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("analytics_bulk", os.path.join(_HERE, "analytics_bulk.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["analytics_bulk"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--bulk", type=int, default=0, help="PostgreSQL: load N conversations in bulk and measure the summary")
    parser.add_argument("--ingest-seconds", type=float, default=30.0)
    parser.add_argument("--loaded", action="store_true", help="with --bulk: the base is loaded already (an earlier run): migrate it to head, measure")
    args = parser.parse_args()
    if args.bulk:
        bulk_module = _bulk_module()
        if not args.database_url.startswith("postgresql"):
            parser.error("--bulk needs --database-url of an empty PostgreSQL database")
        bulk = asyncio.run(bulk_module.measure(args.database_url, args.bulk, calls=min(args.calls, 30), ingest_seconds=args.ingest_seconds,
                                                 load=not args.loaded))
        print(f"1-minute load average at the end: {os.getloadavg()[0]:.1f} (shared machine)")
        for line in bulk_module.report(bulk):
            print(line)
        return
    out = asyncio.run(run_ground_truth(args.conversations, database_url=args.database_url, calls=args.calls))
    print(f"backend: {out.backend}; 1-minute load average at the end: {os.getloadavg()[0]:.1f} (shared machine)")
    print(f"conversations: {out.conversations} ({out.actions} actions) played in {out.played_seconds:.1f} s "
          f"({out.conversations / out.played_seconds:.1f} conversations/s); CPU {out.cpu_seconds:.1f} s, "
          f"{1000 * out.cpu_seconds / out.conversations:.0f} ms a conversation")
    print(f"projection lag: {out.events} events, drained every 50 actions; draining (every subscriber, the projection "
          f"included) took {out.drain_seconds:.1f} s in all, {1000 * out.drain_seconds / max(out.events, 1):.1f} ms an event")
    print(f"summary equals the plan's figures: {out.exact}")
    print(f"summary latency over {len(out.latencies_ms)} calls: p50 {out.p50_ms:.1f} ms, p95 {out.p95_ms:.1f} ms")


if __name__ == "__main__":
    main()
