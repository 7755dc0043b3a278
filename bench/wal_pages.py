"""Which tables and indexes a webhook message makes SQLite write: WAL frames per message, by b-tree.

Every page a transaction changes is appended to the WAL as one frame (its page image) at
COMMIT, and written once more into the database file by the next checkpoint; a page changed by
sixteen messages of one group commit is written once, a page changed in every group once per
group. This script builds okno in-process on a fresh SQLite file (as ``ingest_cpu.py`` does: the
API channel's webhooks through the ASGI app, 32 at a time, so the intake's group commit sees
concurrent requests), warms it up, empties the WAL, then, with checkpoints off, sends the measured
messages and reads the WAL's frames: each frame's page number is mapped to its table or index
through SQLite's ``dbstat``. It does the same for draining the queues afterwards (``settle``: the
relay and every subscriber, the reports projection included). Frames are counted per message, by
b-tree, with the number of distinct pages; a frame is a 4 KiB ``write`` now and another at the
checkpoint, whatever the row's size.

    PYTHONPATH=src .venv/bin/python bench/wal_pages.py [--warmup 5000] [--messages 2000] [--top 25]

A script that prints figures, not a test: the counts depend on the data's shape (customers,
channels, conversations per customer), not on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import struct
import sys
import tempfile
from collections import Counter
from pathlib import Path

from _inprocess import fresh_settings, warmed_okno
from ingest_cpu import send_all
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's factories

from okno.kit import db as okno_db  # noqa: E402

WAL_HEADER = 32
FRAME_HEADER = 24


def wal_frames(wal: Path) -> tuple[list[int], int, int]:
    """The page number of every frame in ``wal``, the number of commits, and the page size."""
    data = wal.read_bytes()
    if len(data) < WAL_HEADER:
        return [], 0, 4096
    page_size = struct.unpack(">I", data[8:12])[0]
    pages, commits, offset = [], 0, WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(data):
        page, size_after_commit = struct.unpack(">II", data[offset : offset + 8])
        pages.append(page)
        commits += size_after_commit != 0
        offset += FRAME_HEADER + page_size
    return pages, commits, page_size


def btree_of_pages(db_file: Path) -> dict[int, str]:
    """Each page's table or index now (read with the WAL applied; a freed page is not listed)."""
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT pageno, name FROM dbstat").fetchall())
    finally:
        conn.close()


def report(title: str, wal: Path, db_file: Path, messages: int, top: int) -> None:
    pages, commits, page_size = wal_frames(wal)
    owner = btree_of_pages(db_file)
    frames: Counter[str] = Counter()
    distinct: dict[str, set[int]] = {}
    for page in pages:
        name = owner.get(page, "(freelist, header or freed)")
        frames[name] += 1
        distinct.setdefault(name, set()).add(page)
    print(f"\n{title}: {len(pages):,} frames ({len(pages) * page_size / 1e6:,.1f} MB) in {commits:,} commits; "
          f"{len(pages) / messages:.1f} frames a message, {len(pages) / max(commits, 1):.0f} a commit")
    print(f"  {'table or index':52}{'frames/msg':>11}{'pages':>8}{'frames/commit':>15}")
    for name, count in frames.most_common(top):
        print(f"  {name:52}{count / messages:>11.2f}{len(distinct[name]):>8,}{count / max(commits, 1):>15.1f}")
    rest = sum(count for _, count in frames.most_common()[top:])
    if rest:
        print(f"  {'(the rest)':52}{rest / messages:>11.2f}")


async def checkpoint(ctx: object, db_file: Path) -> None:
    """Turns the writer's automatic checkpoints off and empties the WAL (okno is idle meanwhile)."""
    async with ctx.db.transaction() as session:  # type: ignore[attr-defined]
        await session.execute(text("PRAGMA wal_autocheckpoint=0"))
    conn = sqlite3.connect(db_file)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    if busy:
        raise RuntimeError("the WAL could not be emptied: a reader still holds a snapshot")


async def run(args: argparse.Namespace, workdir: Path) -> None:
    settings = await fresh_settings(workdir)
    okno_db._checkpointer = lambda _url: None  # noqa: SLF001 (no checkpoint may empty the WAL under us)
    db_file, wal = workdir / "okno.db", workdir / "okno.db-wal"
    sizes = {"seed": args.seed, "customers": args.customers, "warmup": args.warmup, "messages": args.messages}
    async with warmed_okno(settings, **sizes, send=lambda okno, bodies: send_all(okno.client, okno.path, bodies, args.concurrency)) as okno:
        ctx, client, path, measured = okno.ctx, okno.client, okno.path, okno.measured
        await checkpoint(ctx, db_file)
        await send_all(client, path, measured, args.concurrency)
        print(f"{args.messages:,} messages after {args.warmup:,} warm-up ({args.customers:,} customers), {args.concurrency} concurrent")
        report("webhooks (the intake's group commits)", wal, db_file, args.messages, args.top)
        await checkpoint(ctx, db_file)
        await ctx.settle()
        report("settle (relay, subscribers, reports projection)", wal, db_file, args.messages, args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="okno-wal-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
