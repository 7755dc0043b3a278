"""Memory and time of one full pass over a Google location with 10,000 reviews.

Serves the fake Google Business Profile API (``okno.channels.adapters.google_reviews.fake``) from
a separate process on 127.0.0.1 (its reviews are not counted against okno), then runs the real
adapter's ``poll`` the way the poll worker does — one page per poll, the cursor carried over,
each page's items dropped once handed on — until the pass ends, and prints the peak RSS of this
process, the Python heap peak (tracemalloc) and the time, against the target:

* a 10,000-review location in one pass within memory < 300 MB

    .venv/bin/python bench/reviews_poll.py [--reviews N]

A script that prints figures, not a test: it never fails on a missed target.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import subprocess
import sys
import time
import tracemalloc

import httpx

TARGET_MB = 300.0

SERVER = """
import sys, uvicorn
from okno.channels.adapters.google_reviews.fake import FakeGoogleReviews
fake = FakeGoogleReviews()
for n in range(int(sys.argv[2])):
    fake.add_review(f"Гость {n}", 1 + n % 5, "Отзыв номер %d: " % n + "очень подробный текст " * 8)
fake.tokens.add("bench-token")
print("ready", flush=True)
uvicorn.run(fake.app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def one_pass(base: str) -> tuple[int, int, int]:
    from okno.channels.adapters.google_reviews.adapter import GoogleReviewsChannel, GoogleReviewsConfig
    from okno.channels.adapters.google_reviews.fake import FakeGoogleReviews

    fake = FakeGoogleReviews()  # only its ids: the served one is in the other process
    config = GoogleReviewsConfig(account_id=fake.account_id, location_id=fake.location_id, access_token="bench-token", api_base=base)
    adapter = GoogleReviewsChannel(1)
    cursor: dict = {}
    seen: set[str] = set()
    polls = 0
    async with httpx.AsyncClient(timeout=30) as http:
        while True:
            batch = await adapter.poll(config, cursor, http)
            polls += 1
            seen.update(item.provider_id for item in batch.items)
            cursor = batch.cursor
            del batch  # the worker stores the page and lets it go
            if "page_token" not in cursor:
                break
    return polls, len(seen), len(cursor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviews", type=int, default=10_000)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(args.reviews)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        tracemalloc.start()
        started = time.perf_counter()
        polls, reviews, _ = asyncio.run(one_pass(f"http://127.0.0.1:{port}"))
        elapsed = time.perf_counter() - started
        _, heap_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        server.terminate()
        server.wait(10)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"reviews read:        {reviews:,} in {polls} polls (one page each), {elapsed:.1f} s")
    print(f"peak RSS (process):  {rss_mb:.0f} MB   target < {TARGET_MB:.0f} MB   {'MET' if rss_mb < TARGET_MB else 'MISSED'}")
    print(f"Python heap peak:    {heap_peak / 2**20:.1f} MB (tracemalloc, while polling)")
    print("(shared, loaded machine: the time is indicative only)")


if __name__ == "__main__":
    main()
