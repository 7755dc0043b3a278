"""Everything a running okno holds: settings, database, caches, bus, workers.

Write transactions commit through ``db.transaction()``; the workers their changes asked for
(new outbox rows, queued deliveries) are woken by ``wake`` only after that commit succeeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from okno.audit.reads import ReadLog
from okno.automation.webhook_worker import WebhookCallWorker
from okno.bus.deps import SubscriberDeps
from okno.bus.inprocess import InProcessBus
from okno.bus.nats import NatsBus
from okno.bus.relay import OutboxRelay, RetryBackoff
from okno.channels.delivery import DeliveryWorker, RetryPolicy
from okno.channels.directory import ChannelDirectory
from okno.channels.ingest import IngestProcessor
from okno.channels.handoff import IntakeLink
from okno.channels.intake import WebhookIntake
from okno.channels.polling import PollWorker
from okno.channels.runtime import AdapterRuntime, RuntimeSettings
from okno.config import Settings
from okno.conversations.shared_counts import SharedCounts
from okno.files.storage import FileStorage, file_storage
from okno.customers.retention import PLAN_EVERY_SECONDS, RetentionPlanner
from okno.jobs.worker import JobWorker
from okno.kit import pii
from okno.kit.crypto import SecretBox
from okno.kit.db import Database, create_database
from okno.kit.outbound_urls import OutboundUrls
from okno.kit.timers import TimerWorker
from okno.kit.worker import LoopWorker
from okno.kit.worker_lock import WorkerLock, sqlite_file
from okno.realtime.operators import OperatorFeed
from okno.surveys import policy as surveys_policy


@dataclass
class AppContext:
    settings: Settings
    db: Database
    box: SecretBox
    channels: ChannelDirectory
    bus: InProcessBus
    http: httpx.AsyncClient
    ingest: IngestProcessor
    relay: OutboxRelay
    delivery: DeliveryWorker
    channel_runtime: AdapterRuntime  # what adapters and their own routes may use (not this context)
    intake: WebhookIntake | IntakeLink  # the link: a serving process whose worker stores the items
    files: FileStorage
    urls: OutboundUrls = field(default_factory=OutboundUrls)  # which addresses outbound calls may reach
    timers: TimerWorker | None = None  # SLA deadlines and other durable timers
    webhook_calls: WebhookCallWorker | None = None  # automation rules' call_webhook jobs
    jobs: JobWorker | None = None  # durable jobs (matcher estimation, re-indexing)
    polls: PollWorker | None = None  # polling ingress (channels whose adapters poll)
    workers: dict[str, LoopWorker] = field(default_factory=dict)
    operator_feed: OperatorFeed = field(default_factory=OperatorFeed)
    inbox_counts: SharedCounts = field(default_factory=SharedCounts)  # the counters' grouped snapshot, shared by operators
    # serving beside an `okno worker`: wakes for workers in that process (okno.worker_process)
    forward_wakes: Callable[[Iterable[str]], None] | None = None
    worker_lock: WorkerLock | None = None  # SQLite: this process runs the database's workers
    read_log: ReadLog | None = None  # audited reads of customer data, written in batches
    nats: NatsBus | None = None  # OKNO_BUS_URL: the bus on NATS JetStream (okno.bus.nats)

    async def open_bus(self, *, live: bool) -> None:
        """Connects to NATS (OKNO_BUS_URL) before any worker starts; ``live``: this process serves
        browsers, so it hears every published event for the operators' live feed."""
        if self.nats is None:
            return
        await self.nats.connect()
        if live:
            await self.nats.listen(self.operator_feed.on_event)

    def wake(self, names: Iterable[str]) -> None:
        names = list(names)
        for name in names:
            worker = self.workers.get(name)
            if worker is not None:
                worker.wake()
        if self.forward_wakes is not None and names:
            self.forward_wakes(names)

    def start_workers(self) -> None:
        database = sqlite_file(self.settings.resolved_database_url())
        if database is not None:  # one process drains a SQLite database's queues
            self.worker_lock = WorkerLock(database)
            self.worker_lock.acquire()
        poll = self.settings.worker_poll_seconds
        self.workers = {
            "ingest": LoopWorker("ingest", self.ingest.drain_once, poll_seconds=poll),
            # coalesced: one settle transaction per 50 ms of traffic instead of one per commit
            "relay": LoopWorker("relay", self.relay.drain_once, poll_seconds=poll, min_interval=0.05),
            "delivery": LoopWorker("delivery", self.delivery.drain_once, poll_seconds=poll),
        }
        if self.timers is not None:
            self.workers["timers"] = LoopWorker("timers", self.timers.drain_once, poll_seconds=poll)
        if self.webhook_calls is not None:
            self.workers["webhook_calls"] = LoopWorker("webhook_calls", self.webhook_calls.drain_once, poll_seconds=poll)
        if self.jobs is not None:
            self.workers["jobs"] = LoopWorker("jobs", self.jobs.drain_once, poll_seconds=poll)
        if self.polls is not None:
            self.workers["polls"] = LoopWorker("polls", self.polls.drain_once, poll_seconds=poll)
        if self.jobs is not None:  # queues the daily retention job (customers/retention.py)
            self.workers["retention"] = LoopWorker("retention", self._retention_planner().drain_once, poll_seconds=PLAN_EVERY_SECONDS)
        for worker in self.workers.values():
            worker.start()
        if self.nats is not None:  # this process joins every subscriber group
            self.nats.start_consumers()

    def _retention_planner(self) -> RetentionPlanner:
        s = self.settings
        return RetentionPlanner(self.db, message_days=s.retention_message_days, raw_days=s.retention_raw_days,
                                hour_utc=s.retention_hour_utc, files_dir=s.resolved_files_dir())  # fmt: skip

    async def settle(self) -> None:
        """Drain every queue until all are empty (tests, CLI one-shots)."""
        while (
            (await self.ingest.drain_once())
            + (await self.relay.drain_once())
            + (await self.delivery.drain_once())
            + (await self.timers.drain_once() if self.timers is not None else 0)
            + (await self.webhook_calls.drain_once() if self.webhook_calls is not None else 0)
            + (await self.jobs.drain_once() if self.jobs is not None else 0)
            + (await self.polls.drain_once() if self.polls is not None else 0)
        ):
            pass

    async def close(self) -> None:
        await self.intake.close()
        if self.read_log is not None:
            await self.read_log.close()
        for worker in self.workers.values():
            await worker.stop()
        if self.nats is not None:  # handlers in flight finish and ack; then the connection drains
            await self.nats.close()
        if self.worker_lock is not None:
            self.worker_lock.release()
        await self.http.aclose()
        await self.db.dispose()


def build_context(settings: Settings) -> AppContext:
    from okno.bootstrap import JOB_HANDLERS, TIMER_HANDLERS, wire_subscribers

    if settings.email_rules:
        from okno.customers.email_rules import configure_email_rules_json

        configure_email_rules_json(settings.email_rules)
    db = create_database(settings.resolved_database_url())
    box = SecretBox(settings.fernet_keys())
    pii.use_keys(settings.fernet_keys())  # personal data columns seal with the same key ring
    channel_runtime = AdapterRuntime(db, RuntimeSettings(
        default_region=settings.default_region, public_url=settings.public_url, trusted_proxies=settings.trusted_proxies,
        rate_limits=settings.model_dump(include={"widget_messages_per_minute", "widget_messages_per_minute_per_ip", "widget_sessions_per_minute_per_ip", "widget_receipts_per_minute"}),
        shared_limits=settings.widget_limits_shared if settings.widget_limits_shared is not None else bool(settings.bus_url),
    ))
    channels = ChannelDirectory(db, box, runtime=channel_runtime)
    bus = InProcessBus()
    urls = OutboundUrls(allow_private=settings.allow_private_urls)
    http = urls.client(timeout=settings.delivery_timeout_seconds)
    ingest = IngestProcessor(db, batch_size=settings.ingest_batch_size, default_region=settings.default_region)
    files = file_storage(settings)
    channel_runtime.blobs = files.blobs
    retry_backoff = RetryBackoff(base_seconds=settings.event_retry_base_seconds)
    nats_bus = None
    if settings.bus_url:
        nats_bus = NatsBus(settings.bus_url, bus, db, prefix=settings.bus_prefix, max_attempts=settings.outbox_max_attempts,
                           backoff=retry_backoff, ack_wait=settings.bus_ack_wait_seconds)  # fmt: skip
        channel_runtime.fanout = nats_bus.fanout
    ctx = AppContext(
        settings=settings,
        db=db,
        box=box,
        channels=channels,
        bus=bus,
        http=http,
        ingest=ingest,
        relay=OutboxRelay(db, nats_bus or bus, max_attempts=settings.outbox_max_attempts, backoff=retry_backoff,
                          lease=timedelta(seconds=settings.outbox_lease_seconds)),
        delivery=DeliveryWorker(
            db,
            channels,
            http,
            policy=RetryPolicy(
                max_attempts=settings.delivery_max_attempts,
                base_seconds=settings.delivery_backoff_base_seconds,
                max_seconds=settings.delivery_backoff_max_seconds,
            ),
            send_timeout=settings.delivery_timeout_seconds,
            files=files,
        ),
        channel_runtime=channel_runtime,
        intake=WebhookIntake(db, ingest, inline=settings.ingest_inline),
        files=files,
        urls=urls,
        nats=nats_bus,
    )
    ctx.intake.on_pending = lambda: ctx.wake(["ingest"])
    channel_runtime.connect(channels.get, ctx.wake, http)
    db.after_commit = ctx.wake
    wire_subscribers(bus, SubscriberDeps(db=db, channels=channels, settings=settings))
    ctx.timers = TimerWorker(db, TIMER_HANDLERS)
    # outbound webhooks retry like outbound messages (the delivery settings)
    ctx.webhook_calls = WebhookCallWorker(
        db, http, box, policy=ctx.delivery.policy, timeout=settings.delivery_timeout_seconds
    )
    ctx.jobs = JobWorker(db, JOB_HANDLERS, lease_seconds=settings.job_lease_seconds, concurrency=settings.job_concurrency)
    ctx.polls = PollWorker(
        db,
        channels,
        http,
        policy=RetryPolicy(base_seconds=settings.poll_backoff_base_seconds, max_seconds=settings.poll_backoff_max_seconds),
        default_region=settings.default_region,
    )
    bus.listen(ctx.operator_feed.on_event)
    ctx.operator_feed.on_every_event(ctx.inbox_counts.changed)  # counters re-read after an event are read after it
    # presence (and a customer typing, reported by channel adapters) goes through the runtime's
    # fan-out: NATS with OKNO_BUS_URL, else this process's own
    ctx.operator_feed.attach(channel_runtime.fanout)
    ctx.read_log = ReadLog(db, flush_seconds=settings.read_audit_flush_seconds)
    surveys_policy.use_settings(settings)  # the survey timers and the ingest hook read it
    return ctx
