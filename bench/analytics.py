"""Analytics on this machine: plays the ground-truth plan (okno.reports.ground_truth) through an
okno app in-process (API-channel webhooks, REST replies, survey events; okno.reports.runner),
checks the summary against the plan, and prints the play rate, the projection lag (how long the
relay spends per event, with every subscriber, while the play's backlog is drained every 50 actions) and the summary endpoint's latency p50/p95.

    .venv/bin/python bench/analytics.py [--conversations N] [--database-url URL] [--calls K]

Without ``--database-url`` it uses a fresh SQLite file; for PostgreSQL give an empty database.
A script that prints figures, not a test. The machine is shared: timings vary with its load.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from okno.reports.runner import run_ground_truth


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    out = asyncio.run(run_ground_truth(args.conversations, database_url=args.database_url, calls=args.calls))
    print(f"backend: {out.backend}; 1-minute load average at the end: {os.getloadavg()[0]:.1f} (shared machine)")
    print(f"conversations: {out.conversations} ({out.actions} actions) played in {out.played_seconds:.1f} s "
          f"({out.conversations / out.played_seconds:.1f} conversations/s)")
    print(f"projection lag: {out.events} events, drained every 50 actions; draining (every subscriber, the projection "
          f"included) took {out.drain_seconds:.1f} s in all, {1000 * out.drain_seconds / max(out.events, 1):.1f} ms an event")
    print(f"summary equals the plan's figures: {out.exact}")
    print(f"summary latency over {len(out.latencies_ms)} calls: p50 {out.p50_ms:.1f} ms, p95 {out.p95_ms:.1f} ms")


if __name__ == "__main__":
    main()
