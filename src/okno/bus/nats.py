"""The bus on NATS JetStream (``OKNO_BUS_URL=nats://host:4222``): many okno processes as one system.

**Publishing.** The outbox relay stays the only publisher (:class:`okno.bus.relay.OutboxRelay`):
with this transport ``deliver(event)`` publishes the committed event once to the stream
``<PREFIX>_EVENTS`` on ``<prefix>.events.<topic>`` with ``Nats-Msg-Id: <prefix>-<outbox id>`` and
waits for JetStream's acknowledgement before the relay marks the row published. A relay that
dies between the two publishes the row again after its lease; JetStream's de-duplication window
(``DUPLICATE_WINDOW``, far longer than the lease) drops the copy. A publish that fails is the
relay's "transport failed" case: the row is retried with backoff.

**Subscribing.** Each (topic, subscriber) pair of ``bootstrap.SUBSCRIBERS`` is one durable pull
consumer filtered on its topic's subject, with explicit acks: the subscriber group is every
``okno worker`` (and embedded serve) process, which fetch from it in turn, so an event is
handled by one process per subscriber. Success acks; a failure naks with the relay's backoff
(``OKNO_EVENT_RETRY_BASE_SECONDS``·2^(n-1)); after ``OKNO_OUTBOX_MAX_ATTEMPTS`` deliveries the
message is published to the dead-letter subject ``<prefix>.dead.<topic>`` (kept by the stream
``<PREFIX>_DEAD``), written as a *parked* ``event_deliveries`` row (the admin's list and
``POST …/retry`` work as with the in-process bus) and terminated. A process killed mid-handler
never acks: JetStream redelivers after ``OKNO_BUS_ACK_WAIT_SECONDS`` to another process (a
long handler keeps its claim with progress acks). Handlers are idempotent (they already were,
for the relay's at-least-once delivery).

**Live clients.** JetStream publishes are ordinary NATS messages too: every serving process
subscribes (core, no consumer) to ``<prefix>.events.>`` for the operators' live feed, and to
``<prefix>.fanout.>`` for ephemeral pushes (:class:`NatsFanout`: the widget's visitor events).
Replay after a reconnect reads the database (outbox, visitor streams), which every process
shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import nats
import orjson
import structlog
from nats.errors import TimeoutError as NatsTimeout
from nats.js import api
from nats.js.errors import BadRequestError, NotFoundError

from okno.bus.events import Event
from okno.bus.inprocess import InProcessBus
from okno.bus.relay import PARKED, RetryBackoff
from okno.kit import metrics
from okno.kit.db import Database, insert_ignoring_duplicates
from okno.kit.fanout import Callback, LocalFanout
from okno.kit.time import utcnow
from okno.models import EventDelivery

log = structlog.get_logger()

DUPLICATE_WINDOW = 600.0  # seconds; the relay's lease is 60 s
STREAM_MAX_AGE = 7 * 24 * 3600.0  # a consumer down for longer than this loses events: alert on lag first
FETCH_BATCH = 64
FETCH_WAIT = 5.0  # a long poll: messages come as soon as they are stored; idle, one pull per consumer per 5 s


def _token(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


class NatsBus:
    """The :class:`~okno.bus.events.Transport` on JetStream, its consumers, and the live subscriptions."""

    def __init__(
        self,
        url: str,
        bus: InProcessBus,
        db: Database,
        *,
        prefix: str = "okno",
        max_attempts: int = 10,
        backoff: RetryBackoff | None = None,
        ack_wait: float = 30.0,
    ) -> None:
        self.url = url
        self.bus = bus
        self.db = db
        self.prefix = prefix
        self.stream = f"{_token(prefix).upper()}_EVENTS"
        self.dead_stream = f"{_token(prefix).upper()}_DEAD"
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff or RetryBackoff()
        self.ack_wait = ack_wait
        self.nc: Any = None
        self.js: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.fanout = NatsFanout(self)

    # --- connection and topology ------------------------------------------------------------

    async def connect(self) -> None:
        self.nc = await nats.connect(
            self.url, name="okno", max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=5,
            allow_reconnect=True, error_cb=self._on_error, disconnected_cb=self._on_disconnect, reconnected_cb=self._on_reconnect,
        )
        self.js = self.nc.jetstream(timeout=5)
        await self._ensure_topology()
        await self.fanout.start()

    async def _on_error(self, exc: Exception) -> None:
        log.warning("bus_error", error=f"{type(exc).__name__}: {exc}")

    async def _on_disconnect(self) -> None:
        log.warning("bus_disconnected", url=self.url)

    async def _on_reconnect(self) -> None:
        log.info("bus_reconnected", url=self.url)

    def subject(self, topic: str) -> str:
        return f"{self.prefix}.events.{topic}"

    def durable(self, topic: str, subscriber: str) -> str:
        return _token(f"{topic}__{subscriber}")

    def pairs(self) -> list[tuple[str, str]]:
        return [(topic, name) for topic in sorted(self.bus.topics()) for name in self.bus.subscribers_of(topic)]

    async def _ensure_topology(self) -> None:
        """Streams and every subscriber's durable consumer exist before anything is published
        (each process does it on start: a consumer created later would miss what came before)."""
        await self._ensure_stream(api.StreamConfig(
            name=self.stream, subjects=[f"{self.prefix}.events.>"], storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS, max_age=STREAM_MAX_AGE, duplicate_window=DUPLICATE_WINDOW,
        ))
        await self._ensure_stream(api.StreamConfig(
            name=self.dead_stream, subjects=[f"{self.prefix}.dead.>"], storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS, max_age=30 * 24 * 3600.0,
        ))
        for topic, name in self.pairs():
            config = api.ConsumerConfig(
                durable_name=self.durable(topic, name), filter_subject=self.subject(topic),
                deliver_policy=api.DeliverPolicy.NEW, ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait, max_deliver=self.max_attempts + 5, max_ack_pending=1000,
            )
            try:
                await self.js.consumer_info(self.stream, config.durable_name)
            except NotFoundError:
                with contextlib.suppress(BadRequestError):  # another process created it meanwhile
                    await self.js.add_consumer(self.stream, config)

    async def _ensure_stream(self, config: api.StreamConfig) -> None:
        try:
            await self.js.stream_info(config.name)
        except NotFoundError:
            with contextlib.suppress(BadRequestError):
                await self.js.add_stream(config)

    async def ping(self) -> bool:
        if self.nc is None or not self.nc.is_connected:
            return False
        try:
            await self.nc.flush(timeout=2)
            return True
        except Exception:
            return False

    # --- the Transport the relay delivers to -------------------------------------------------

    def subscribers_of(self, topic: str) -> list[str]:
        return self.bus.subscribers_of(topic)

    async def deliver(self, event: Event, *, only: str | None = None) -> dict[str, str]:
        """Publishes the event (``only=None``, the relay's first delivery); a parked delivery an
        admin runs again (``only=name``) runs that subscriber here, like the in-process bus."""
        if only is not None:
            return await self.bus.deliver(event, only=only)
        data = orjson.dumps({"id": event.id, "topic": event.topic, "payload": event.payload, "created_at": event.created_at.isoformat()})
        await self.js.publish(self.subject(event.topic), data, headers={"Nats-Msg-Id": f"{self.prefix}-{event.id}"})
        metrics.EVENTS_PUBLISHED.inc()
        metrics.RELAY_LAG.observe(max((utcnow() - event.created_at).total_seconds(), 0.0))
        return {}

    async def publish_many(self, events: list[Event]) -> dict[int, str]:
        """The relay's batch, all publishes in flight together (each waits for its own
        acknowledgement); returns the events that were not stored, with the reason."""
        results = await asyncio.gather(*(self.deliver(event) for event in events), return_exceptions=True)
        return {event.id: f"{type(r).__name__}: {r}" for event, r in zip(events, results, strict=True) if isinstance(r, BaseException)}

    # --- subscriber groups ------------------------------------------------------------------

    def start_consumers(self) -> None:
        for topic, name in self.pairs():
            self._tasks.append(asyncio.create_task(self._consume(topic, name), name=f"okno-bus-{topic}-{name}"))

    async def _consume(self, topic: str, name: str) -> None:
        durable = self.durable(topic, name)
        sub = None
        while not self._stopping.is_set():
            try:
                if sub is None:
                    sub = await self.js.pull_subscribe_bind(durable=durable, stream=self.stream)
                try:
                    messages = await sub.fetch(FETCH_BATCH, timeout=FETCH_WAIT)
                except NatsTimeout:
                    continue
                for message in messages:
                    if self._stopping.is_set():
                        return  # unacked: redelivered to another process after ack_wait
                    await self._handle(message, name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS restarting, a consumer being created: try again shortly
                log.warning("bus_consumer_error", consumer=durable, error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.5)

    async def _handle(self, message: Any, name: str) -> None:
        self._in_flight += 1
        self._idle.clear()
        try:
            data = orjson.loads(message.data)
            event = Event(id=data["id"], topic=data["topic"], payload=data["payload"], created_at=datetime.fromisoformat(data["created_at"]))
            attempt = message.metadata.num_delivered
            with structlog.contextvars.bound_contextvars(
                event_id=event.id, topic=event.topic, subscriber=name, conversation_id=event.payload.get("conversation_id")
            ):
                keep_claim = asyncio.create_task(self._keep_claim(message))
                try:
                    failures = await self.bus.deliver(event, only=name)
                finally:
                    keep_claim.cancel()
                error = failures.get(name)
                if error is None:
                    await message.ack()
                    metrics.EVENT_HANDLED.labels("done").inc()
                    metrics.CONSUMER_LAG_SECONDS.observe(max((utcnow() - event.created_at).total_seconds(), 0.0))
                elif attempt >= self.max_attempts:
                    await self._park(event, name, attempt, error)
                    await message.term()
                    metrics.EVENT_HANDLED.labels("parked").inc()
                else:
                    await message.nak(delay=self.backoff.delay(attempt).total_seconds())
                    metrics.EVENT_HANDLED.labels("retried").inc()
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def _keep_claim(self, message: Any) -> None:
        while True:
            await asyncio.sleep(self.ack_wait / 3)
            with contextlib.suppress(Exception):
                await message.in_progress()

    async def _park(self, event: Event, name: str, attempts: int, error: str) -> None:
        """The dead-letter subject, and the parked row admins list and run again."""
        await self.js.publish(
            f"{self.prefix}.dead.{event.topic}",
            orjson.dumps({"event_id": event.id, "topic": event.topic, "subscriber": name, "attempts": attempts, "error": error[:2000]}),
        )
        now = utcnow()
        async with self.db.transaction() as session:
            statement = insert_ignoring_duplicates(EventDelivery.__table__, session.bind.dialect.name, ["event_id", "subscriber"])
            await session.execute(statement, [{
                "event_id": event.id, "subscriber": name, "status": PARKED, "attempts": attempts, "next_attempt_at": now,
                "locked_until": None, "last_error": error[:2000], "updated_at": now,
            }])
        log.warning("event_delivery_parked", event_id=event.id, subscriber=name, attempts=attempts)

    async def consumer_pending(self) -> dict[str, int]:
        """Per subscriber group: messages not yet delivered plus delivered and not acknowledged."""
        pending = {}
        for topic, name in self.pairs():
            durable = self.durable(topic, name)
            info = await self.js.consumer_info(self.stream, durable)
            pending[durable] = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        return pending

    # --- live subscriptions -----------------------------------------------------------------

    async def listen(self, callback: Callable[[Event], Awaitable[None]]) -> None:
        """Every published event, in this process, as it is published (the operators' live feed)."""

        async def on_message(message: Any) -> None:
            data = orjson.loads(message.data)
            event = Event(id=data["id"], topic=data["topic"], payload=data["payload"], created_at=datetime.fromisoformat(data["created_at"]))
            try:
                await callback(event)
            except Exception:
                log.exception("bus_listener_failed", event_id=event.id)

        await self.nc.subscribe(f"{self.prefix}.events.>", cb=on_message)

    # --- shutdown ---------------------------------------------------------------------------

    async def close(self, *, drain_seconds: float = 10.0) -> None:
        """Stops fetching, lets the handlers in flight finish (their acks go out), flushes and
        closes the connection. Messages fetched but not started are never acked: JetStream gives
        them to another process after the ack wait."""
        self._stopping.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout=drain_seconds)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.flush(timeout=2)  # what was published (acks, fan-out) goes out
            with contextlib.suppress(Exception):
                await self.nc.close()


class NatsFanout(LocalFanout):
    """:class:`okno.kit.fanout.Fanout` over NATS core subjects ``<prefix>.fanout.<name>``: a
    message published in any process is dispatched to the callbacks of every process."""

    def __init__(self, owner: NatsBus) -> None:
        super().__init__()
        self.owner = owner

    async def start(self) -> None:
        base = f"{self.owner.prefix}.fanout."

        async def on_message(message: Any) -> None:
            self.dispatch(message.subject[len(base):], orjson.loads(message.data))

        await self.owner.nc.subscribe(base + ">", cb=on_message)

    async def publish(self, name: str, message: dict[str, Any]) -> None:
        nc = self.owner.nc
        if nc is None or not nc.is_connected:
            # NATS is away: this process's own clients still hear it; others replay on reconnect
            self.dispatch(name, message)
            return
        await nc.publish(f"{self.owner.prefix}.fanout.{name}", orjson.dumps(message))

    def subscribe(self, name: str, callback: Callback) -> None:
        super().subscribe(name, callback)
