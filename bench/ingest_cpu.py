"""CPU per ingested message, in one process, stage by stage: a guide where the machine is shared.

Builds okno in-process on a fresh SQLite file (embedded workers off), sends API-channel webhooks
through the ASGI app (``httpx.ASGITransport``, 32 at a time: the intake's group commit sees
concurrent requests as under uvicorn), then drains every queue (``AppContext.settle``: ingest,
the outbox relay and its subscribers, the other workers). Process CPU time (``time.process_time``,
all threads) is reported per message for the two phases, and with ``--by-subscriber`` for each
subscriber and each relay step (the event loop thread's CPU while each runs). With ``--live`` the
relay runs during the sends as under ``okno serve`` (woken after each commit, at most every 50 ms),
so its batches have a server's sizes instead of the settle's 200 events. ``--callgrind`` (under
``valgrind --tool=callgrind --instr-atstart=no``) counts the instructions of the measured sends and
settle (the sends dumped apart: the first file's part is theirs, the last one's the settle's): a
figure the machine's load does not move. Wall-clock figures of a loaded machine mean little; CPU per
message moves far less with the load. The in-process client's own cost (httpx, ASGI transport) is
inside the webhook figure, so compare branches, not this figure with ``ingest_wrk.py``'s.

    PYTHONPATH=src .venv/bin/python bench/ingest_cpu.py [--warmup 3000] [--messages 2000] [--by-subscriber] [--live]
    PYTHONPATH=src valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.%p \
        .venv/bin/python bench/ingest_cpu.py --callgrind --warmup 3000 --messages 1000

A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from ingest import SignedBody
from _inprocess import fresh_settings, warmed_okno
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's factories

from okno.bus import inprocess, relay  # noqa: E402
from okno.kit.worker import LoopWorker  # noqa: E402

CPU: Counter[tuple[str, str]] = Counter()
CALLS: Counter[tuple[str, str]] = Counter()


class _Steps:
    """Awaits ``coro`` counting this thread's CPU only during its own steps: while a subscriber
    awaits a statement, other work runs (the webhooks, with ``--live``), and that is not its own."""

    def __init__(self, key: tuple[str, str], coro: Any) -> None:
        self.key, self.coro = key, coro

    def __await__(self):  # noqa: ANN204
        it = self.coro.__await__()
        value, error = None, None
        while True:
            started = time.thread_time()
            try:
                yielded = it.throw(error) if error is not None else it.send(value)
            except StopIteration as stop:
                CPU[self.key] += time.thread_time() - started
                return stop.value
            except BaseException:
                CPU[self.key] += time.thread_time() - started
                raise
            CPU[self.key] += time.thread_time() - started
            value, error = None, None
            try:
                value = yield yielded
            except BaseException as exc:  # noqa: BLE001 (handed on to the coroutine)
                error = exc


def _timed(key: tuple[str, str], fn):  # noqa: ANN001, ANN202
    async def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        CALLS[key] += 1
        return await _Steps(key, fn(*args, **kwargs))

    return run


def time_subscribers(bus: inprocess.InProcessBus) -> None:
    for topic, handlers in bus._subscribers.items():  # noqa: SLF001 (a benchmark's instrumentation)
        for name in list(handlers):
            handlers[name] = _timed((topic, name), handlers[name])
    batches = getattr(bus, "_batches", {})  # older trees have no batch forms
    for name in list(batches):
        batches[name] = _timed(("(batch form)", name), batches[name])
    for step in ("_lease", "_settle"):
        setattr(relay.OutboxRelay, step, _timed(("relay", step), getattr(relay.OutboxRelay, step)))


async def send_all(client: httpx.AsyncClient, path: str, items: list[SignedBody], concurrency: int) -> None:
    pending = iter(items)

    async def sender() -> None:
        for item in pending:
            response = await client.post(path, content=item.body, headers={"Content-Type": "application/json", **dict(item.headers)})
            if response.status_code != 200:
                raise RuntimeError(f"webhook answered {response.status_code}: {response.text}")

    await asyncio.gather(*(sender() for _ in range(concurrency)))


def _callgrind(args: argparse.Namespace, command: str) -> None:
    """``--instr=on|off``, or ``--dump=…``: the sends' instructions into a file of their own, so the
    last dump (at exit) holds the settle's alone."""
    if args.callgrind:
        subprocess.run(["callgrind_control", command, str(os.getpid())], check=True, capture_output=True)


def start_relay(ctx: Any) -> LoopWorker:
    """The relay as ``okno serve`` runs it (``AppContext.start_workers``): woken after each commit."""
    worker = LoopWorker("relay", ctx.relay.drain_once, poll_seconds=ctx.settings.worker_poll_seconds, min_interval=0.05)
    ctx.workers["relay"] = worker
    worker.start()
    return worker


async def run(args: argparse.Namespace, workdir: Path) -> None:
    sizes = {"seed": args.seed, "customers": args.customers, "warmup": args.warmup, "messages": args.messages}
    async with warmed_okno(await fresh_settings(workdir), **sizes, send=lambda okno, bodies: send_all(okno.client, okno.path, bodies, args.concurrency)) as okno:
        ctx, client, path, measured = okno.ctx, okno.client, okno.path, okno.measured
        async with ctx.db.reading() as session:
            last_event = (await session.execute(text("SELECT coalesce(max(id), 0) FROM outbox"))).scalar_one()
        if args.by_subscriber:
            time_subscribers(ctx.bus)
        load = os.getloadavg()[0]
        relay = start_relay(ctx) if args.live else None
        _callgrind(args, "--instr=on")
        started = time.process_time()
        await send_all(client, path, measured, args.concurrency)
        sent = time.process_time()
        if relay is not None:
            await relay.stop()
            del ctx.workers["relay"]
        _callgrind(args, "--dump=sends")
        await ctx.settle()
        settled = time.process_time()
        _callgrind(args, "--instr=off")
        async with ctx.db.reading() as session:
            topics = (await session.execute(text(f"SELECT topic, count(*) FROM outbox WHERE id > {int(last_event)} GROUP BY topic"))).all()  # noqa: S608
    n = args.messages
    print(f"{n:,} messages after {args.warmup:,} warm-up ({args.customers:,} customers), {args.concurrency} concurrent; 1-minute load {load:.1f}")
    if args.live:
        print("  the relay ran during the sends (--live): most of its work is in the first figure")
    print(f"  webhooks (HTTP in-process, intake group commit): {1e6 * (sent - started) / n:8,.0f} µs CPU per message")
    print(f"  settle (relay, subscribers, other workers):       {1e6 * (settled - sent) / n:8,.0f} µs CPU per message")
    print(f"  whole pipeline:                                   {1e6 * (settled - started) / n:8,.0f} µs CPU per message")
    print("  events: " + ", ".join(f"{topic} {count:,}" for topic, count in sorted(topics)))
    if args.by_subscriber:
        print("  by subscriber / relay step (µs of the event loop thread's CPU per message while each runs, calls):")
        for (topic, name), seconds in CPU.most_common():
            print(f"    {1e6 * seconds / n:8,.0f}  {CALLS[(topic, name)]:6,}  {topic}: {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=3000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--by-subscriber", action="store_true", help="CPU per subscriber and relay step (adds a little overhead)")
    parser.add_argument("--live", action="store_true", help="run the relay during the sends, as okno serve does")
    parser.add_argument("--callgrind", action="store_true", help="under valgrind --tool=callgrind --instr-atstart=no: counts the measured sends and settle")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="okno-cpu-") as workdir:
        asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
