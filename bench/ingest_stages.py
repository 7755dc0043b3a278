"""CPU per ingested message on the webhook path, stage by stage, in one process.

Builds okno in-process on a fresh SQLite file (embedded workers off, like ``ingest_cpu.py``) and
drives its ASGI app directly, without an HTTP client (a hand-made ``http`` scope per request, 32
requests in flight, so the intake's group commit sees concurrent requests as under uvicorn).
Every stage of the intake path is wrapped with a timer that counts the main thread's CPU
(``time.thread_time``) only while that stage itself runs: a coroutine is timed step by step,
so the time it spends suspended (other requests running) is not counted. Statements inside the
writer's transaction run on the event loop's thread (``kit/sqlite_driver.py``), so a stage's
figure includes its SQL; ``BEGIN``/``COMMIT`` run on the driver's thread and show up in the
difference between process CPU and the main thread's.

Stages are inclusive of the stages listed under them (indented). Figures are µs of CPU per
message over ``--messages`` webhooks after ``--warmup`` ones; the relay and subscribers are not
run during the measurement (``ingest_cpu.py --by-subscriber`` measures them).

    PYTHONPATH=src .venv/bin/python bench/ingest_stages.py [--messages 5000] [--warmup 3000]

A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest import SignedBody
from _inprocess import WarmOkno, fresh_settings, warmed_okno

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's factories


CPU: Counter[str] = Counter()
CALLS: Counter[str] = Counter()

# (label, module, attribute, depth): patched where the caller looks the name up
STAGES = [
    ("ASGI request (fast path, whole)", "okno.app", "serve_webhook", 0),
    ("adapter: signature + parse", "okno.api.webhooks", "ChannelAdapter.handle_webhook", 1),
    ("sender keys (identity normalising)", "okno.api.webhooks", "_split_by_sender", 1),
    ("channel lookup (cached)", "okno.channels.directory", "ChannelDirectory.find", 1),
    ("intake.submit (queueing)", "okno.channels.intake", "WebhookIntake.submit", 1),
    ("group commit (drain task, whole)", "okno.channels.intake", "WebhookIntake._commit", 0),
    ("raw items INSERT … RETURNING (+BEGIN)", "okno.channels.intake", "insert_raw_items", 1),
    ("id prefetch", "okno.channels.intake", "prefetch_sequences", 1),
    ("prepare (claimed items)", "okno.channels.ingest", "IngestProcessor.prepare", 1),
    ("pipeline (apply_inbound)", "okno.channels.ingest", "apply_inbound", 1),
    ("identity resolution", "okno.channels.ingest", "resolve_senders", 2),
    ("survey replies", "okno.channels.ingest", "claim_survey_replies", 2),
    ("threading rules + refs", "okno.channels.ingest", "follow_thread_refs", 2),
    ("conversation lookup/open/touch", "okno.channels.ingest", "thread_touches", 2),
    ("button answers", "okno.channels.ingest", "resolve_answers", 2),
    ("message ids", "okno.channels.ingest", "allocate_ids", 2),
    ("channels used", "okno.channels.ingest", "record_channels_used", 2),
    ("outbox rows", "okno.channels.ingest", "record_events", 2),
    ("matcher profiles", "okno.channels.ingest", "file_new_profiles", 2),
    ("evidence", "okno.channels.ingest", "keep_as_evidence", 2),
    ("reviews", "okno.channels.ingest", "flag_negative_reviews", 2),
    ("commit (transaction exit)", "okno.channels.intake", "_TransactionExit", 1),
]


class _Steps:
    """Awaits ``coro`` counting this thread's CPU only during its own steps."""

    def __init__(self, label: str, coro: Any) -> None:
        self.label, self.coro = label, coro

    def __await__(self):  # noqa: ANN204
        it = self.coro.__await__()
        send, value, error = it.send, None, None
        while True:
            started = time.thread_time()
            try:
                yielded = it.throw(error) if error is not None else send(value)
            except StopIteration as stop:
                CPU[self.label] += time.thread_time() - started
                return stop.value
            except BaseException:
                CPU[self.label] += time.thread_time() - started
                raise
            CPU[self.label] += time.thread_time() - started
            value, error = None, None
            try:
                value = yield yielded
            except BaseException as exc:  # noqa: BLE001 (handed on to the coroutine)
                error = exc


def _timed(label: str, fn: Callable) -> Callable:
    if asyncio.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            CALLS[label] += 1
            return await _Steps(label, fn(*args, **kwargs))

        return run_async

    @functools.wraps(fn)
    def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        CALLS[label] += 1
        started = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            CPU[label] += time.thread_time() - started

    return run


def instrument() -> None:
    from okno.channels import intake
    from okno.channels.registry import ADAPTERS

    for label, module_name, attribute, _ in STAGES:
        module = importlib.import_module(module_name)
        if attribute == "_TransactionExit":
            _time_transaction_exit(intake, label)
        elif attribute == "ChannelAdapter.handle_webhook":
            for adapter in ADAPTERS.values():  # every kind's own handle_webhook
                cls = adapter if isinstance(adapter, type) else type(adapter)
                if "handle_webhook" in vars(cls):
                    cls.handle_webhook = _timed(label, vars(cls)["handle_webhook"])
        elif "." in attribute:
            owner_name, name = attribute.split(".")
            owner = getattr(module, owner_name)
            setattr(owner, name, _timed(label, getattr(owner, name)))
        else:
            setattr(module, attribute, _timed(label, getattr(module, attribute)))


STATEMENTS: Counter[str] = Counter()
STATEMENT_CALLS: Counter[str] = Counter()


def time_statements() -> None:
    """CPU of each ``AsyncSession.execute`` (SQLAlchemy and the driver), by the function that called it."""
    from sqlalchemy.ext.asyncio import AsyncSession

    execute = AsyncSession.execute

    async def timed_execute(self, statement, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        caller = sys._getframe(1).f_code  # noqa: SLF001 (a benchmark's instrumentation)
        label = f"{caller.co_filename.rsplit('/src/', 1)[-1]}:{caller.co_name}"
        STATEMENT_CALLS[label] += 1
        started = time.thread_time()
        steps = _Steps("(statements)", execute(self, statement, *args, **kwargs))
        try:
            return await steps
        finally:
            STATEMENTS[label] += time.thread_time() - started  # wall of a non-yielding step: its CPU

    AsyncSession.execute = timed_execute


def _time_transaction_exit(intake: Any, label: str) -> None:
    """The writer's ``COMMIT`` as the intake sees it: the exit of ``db.transaction()``."""
    original = intake.WebhookIntake._store

    async def store(self, group, *, process):  # noqa: ANN001, ANN202
        db = self.db
        transaction = db.transaction

        def timed_transaction():  # noqa: ANN202
            return _TimedExit(label, transaction())

        db.transaction = timed_transaction
        try:
            return await original(self, group, process=process)
        finally:
            del db.transaction

    intake.WebhookIntake._store = store


class _TimedExit:
    def __init__(self, label: str, manager: Any) -> None:
        self.label, self.manager = label, manager

    async def __aenter__(self) -> Any:
        return await self.manager.__aenter__()

    async def __aexit__(self, *exc: object) -> Any:
        CALLS[self.label] += 1
        return await _Steps(self.label, self.manager.__aexit__(*exc))


async def post(app: Any, path: str, item: SignedBody) -> None:
    body = item.body
    headers = [(b"host", b"okno.test"), (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode(), value.encode()) for name, value in item.headers]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    delivered = False
    status: list[int] = []

    async def receive() -> dict:
        nonlocal delivered
        if delivered:
            await asyncio.Event().wait()  # the client never disconnects
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if status != [200]:
        raise RuntimeError(f"webhook answered {status}")


async def send_all(app: Any, path: str, items: list[SignedBody], concurrency: int) -> None:
    pending = iter(items)

    async def sender() -> None:
        for item in pending:
            await post(app, path, item)

    await asyncio.gather(*(sender() for _ in range(concurrency)))


def _callgrind(args: argparse.Namespace, state: str) -> None:
    """Under ``valgrind --tool=callgrind --instr-atstart=no``: count instructions of the measured
    webhooks only (a figure the machine's load does not move)."""
    if args.callgrind:
        subprocess.run(["callgrind_control", "--instr=" + state, str(os.getpid())], check=True, capture_output=True)


async def run(args: argparse.Namespace, workdir: Path) -> None:
    async def send(okno: WarmOkno, bodies: list[SignedBody]) -> None:
        await send_all(okno.app, okno.path, bodies, args.concurrency)

    sizes = {"seed": args.seed, "customers": args.customers, "warmup": args.warmup, "messages": args.messages}
    async with warmed_okno(await fresh_settings(workdir), **sizes, send=send) as okno:
        app, ctx, path, measured = okno.app, okno.ctx, okno.path, okno.measured
        if not args.no_stages:
            instrument()
        if args.statements:
            time_statements()
        load = os.getloadavg()[0]
        _callgrind(args, "on")
        process, main = time.process_time(), time.thread_time()
        await send_all(app, path, measured, args.concurrency)
        process, main = time.process_time() - process, time.thread_time() - main
        _callgrind(args, "off")
        await ctx.settle()
    n = args.messages
    print(f"{n:,} webhooks after {args.warmup:,} warm-up ({args.customers:,} customers), {args.concurrency} in flight; 1-minute load {load:.1f}")
    print(f"  process CPU {1e6 * process / n:,.0f} µs per message; main thread {1e6 * main / n:,.0f}; other threads (BEGIN/COMMIT, readers) {1e6 * (process - main) / n:,.0f}")
    if args.no_stages:
        return
    print("  stages (main thread µs CPU per message, calls; indented stages are inside the one above):")
    for label, _, _, depth in STAGES:
        print(f"    {1e6 * CPU[label] / n:8,.1f}  {CALLS[label]:7,}  {'  ' * depth}{label}")
    if args.statements:
        print("  statements by caller (µs per message of the caller's thread time while executing, calls; includes any wait):")
        for label, seconds in STATEMENTS.most_common():
            print(f"    {1e6 * seconds / n:8,.1f}  {STATEMENT_CALLS[label]:7,}  {label}")
    timed = CPU["ASGI request (fast path, whole)"] + CPU["group commit (drain task, whole)"]
    print(f"    {1e6 * (main - timed) / n:8,.1f}           rest of the main thread (event loop, scheduling, the in-process driver)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=3000)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--statements", action="store_true", help="CPU of each statement's execution, by caller")
    parser.add_argument("--callgrind", action="store_true", help="run under valgrind --tool=callgrind --instr-atstart=no: instruments the measured webhooks only")
    parser.add_argument("--no-stages", action="store_true", help="no stage timers: CPU per message only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="okno-stages-") as workdir:
        asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
