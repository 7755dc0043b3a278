"""``okno worker``: every background queue without HTTP, and what ``okno serve`` runs instead of
its workers when they live in that process (``OKNO_EMBEDDED_WORKERS=false``).

The worker process runs ingest (items the webhooks staged), the outbox relay, outbound delivery,
durable timers, automation webhook calls, durable jobs — whatever ``AppContext.start_workers``
starts — and is woken by the serving process's commits (:mod:`okno.kit.wake_bridge`). On SQLite
exactly one process may run the workers (:mod:`okno.kit.worker_lock`); on PostgreSQL any number.
The serving process, for its part, forwards its commits' wakes (PostgreSQL) and tails the outbox
for the operators' live feed; with ``OKNO_INGEST_BY_WORKER=true`` it hands its webhooks' verified
items to the worker, which stores them (:mod:`okno.channels.handoff`).
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field

import structlog

from okno.channels.handoff import IntakeLink, IntakeListener, socket_path
from okno.config import Settings
from okno.context import AppContext, build_context
from okno.kit.heap import settle_heap
from okno.kit.wake_bridge import PostgresWakeListener, PostgresWakeNotifier, SQLiteCommitWatcher
from okno.kit.worker import LoopWorker
from okno.kit.worker_lock import sqlite_file
from okno.realtime.operators import FeedTail

log = structlog.get_logger()
FEED_POLL_SECONDS = 0.25


async def run_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    settle: bool = False,
) -> None:
    """Runs until ``stop`` is set (or SIGTERM / SIGINT arrives); then stops taking work, lets
    what is in flight finish (``AppContext.close``) and exits. ``port``: serve ``/healthz``,
    ``/readyz`` and ``/metrics`` there. ``settle`` (the ``okno worker`` process): the garbage
    collector set for a long-running process once started (``okno.kit.heap``)."""
    stop = stop or _stop_on_signals()
    ctx = build_context(settings)
    probes = handoff = None
    try:
        await ctx.open_bus(live=False)
        ctx.start_workers()  # refuses (WorkersAlreadyRunning) if another process runs them on this SQLite file
        if settings.ingest_by_worker:  # the serving processes' webhook items are stored here
            handoff = IntakeListener(ctx.intake, socket_path(settings.data_dir), wake=ctx.wake)
            await handoff.start()
        bridge = await _listen_for_commits(ctx)
        if port is not None:
            from okno.ops.server import ProbeServer

            probes = ProbeServer(ctx, host, port)
            await probes.start()
        if settle:
            settle_heap()
        log.info("worker_started", workers=sorted(ctx.workers), port=port)
        try:
            await stop.wait()
        finally:
            await bridge()
    finally:
        if probes is not None:
            await probes.stop()
        if handoff is not None:
            await handoff.stop()  # no new requests; those taken are answered as the intake drains
        await ctx.close()
        if handoff is not None:
            await asyncio.sleep(0)  # the last group's replies leave (they are written a turn later)
            await handoff.close_connections()


async def _listen_for_commits(ctx: AppContext):
    database = sqlite_file(ctx.settings.resolved_database_url())
    if database is not None:
        watcher = SQLiteCommitWatcher(database, lambda: ctx.wake(list(ctx.workers)))
        if ctx.settings.ingest_by_worker:  # the serving processes send their wakes over the worker's socket
            watcher.own_commits = ctx.db.writer_commits
        watcher.start()
        return watcher.stop
    listener = PostgresWakeListener(ctx.db, ctx.wake)
    await listener.start()
    return listener.stop


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


@dataclass
class ServingCompanions:
    """What a serving process without workers runs: the live feed's outbox tail and (PostgreSQL)
    the wake notifier."""

    feed: LoopWorker | None
    notifier: PostgresWakeNotifier | None = None
    _stopped: bool = field(default=False, repr=False)

    async def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            if self.feed is not None:
                await self.feed.stop()
            if self.notifier is not None:
                await self.notifier.stop()


def start_serving_companions(ctx: AppContext) -> ServingCompanions:
    notifier = None
    if ctx.settings.ingest_by_worker:  # webhook items go to the worker, which stores them; this
        link = IntakeLink(socket_path(ctx.settings.data_dir))  # process's wakes go the same way
        ctx.intake, ctx.forward_wakes = link, link.forward_wakes
    elif not ctx.db.is_sqlite:  # SQLite's worker sees every commit on its own (PRAGMA data_version)
        notifier = PostgresWakeNotifier(ctx.db)
        ctx.forward_wakes = notifier
    feed = None
    if ctx.nats is None:  # with NATS every published event reaches this process's feed directly
        feed = LoopWorker("feed", FeedTail(ctx.db, ctx.operator_feed).drain_once, poll_seconds=FEED_POLL_SECONDS)
        feed.start()
    return ServingCompanions(feed=feed, notifier=notifier)
