"""Group commit for provider webhooks.

Concurrent webhook requests queue their verified items; one drain task stores everything queued
in ONE writer transaction: the raw items (``ON CONFLICT DO NOTHING``: a redelivery is a
duplicate) and — inline mode — the whole pipeline for the new ones (customer, conversation,
message, timeline, outbox). Each request is answered only after that commit, so an accepted item
is never lost, and the single SQLite writer is taken once per group instead of once per request.

If the pipeline fails for a group, the group is stored again as ``pending`` raw items only, and
the ingest processor isolates the bad item; if even that fails, the requests get the error
(providers then retry).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from okno.channels.base import InboundMessage, InboundStatus
from okno.channels.inbound import Accepted, insert_raw_items, raw_item_values, raw_text
from okno.channels.ingest import IngestProcessor
from okno.kit.db import Database
from okno.kit.ids import prefetch_sequences
from okno.kit.time import utcnow
from okno.models import Conversation, Customer, Message

PIPELINE_TABLES = [Customer.__table__, Conversation.__table__, Message.__table__]

log = structlog.get_logger()

Item = InboundMessage | InboundStatus


class _Submission:
    __slots__ = ("channel_id", "items", "raw", "done", "refused", "fresh")

    def __init__(self, channel_id: int, items: list[Item], raw: str, done: asyncio.Future[Accepted], refused: dict[int, str]) -> None:
        self.channel_id = channel_id
        self.items = items
        self.raw = raw
        self.done = done
        self.refused = refused  # id(item) -> why it can't be processed
        self.fresh: list[bool] = []  # per item: first time seen


class WebhookIntake:
    def __init__(self, db: Database, processor: IngestProcessor, *, inline: bool = True, max_items: int = 1000) -> None:
        self.db = db
        self.processor = processor
        self.inline = inline
        self.max_items = max_items
        self.on_pending = lambda: None  # wakes the ingest processor when items are left pending
        self._queue: list[_Submission] = []
        self._drain: asyncio.Task[None] | None = None

    async def submit(self, channel_id: int, items: list[Item], raw: bytes, refused: Sequence[tuple[Item, str]] = ()) -> Accepted:
        """Stores ``items``; ``refused`` ones are kept too, as ``failed`` with the reason, never processed."""
        return await self.enqueue(channel_id, items, raw, refused)

    def enqueue(self, channel_id: int, items: list[Item], raw: bytes, refused: Sequence[tuple[Item, str]] = ()) -> asyncio.Future[Accepted]:
        """:meth:`submit` without waiting: the future is done once the items' group has committed
        (the worker's end of the hand-off answers from its callback, okno.channels.handoff)."""
        if refused:
            items, reasons = [*items, *(item for item, _ in refused)], {id(item): reason for item, reason in refused}
        else:
            items, reasons = list(items), {}
        submission = _Submission(channel_id, items, raw_text(raw), asyncio.get_running_loop().create_future(), reasons)
        self._queue.append(submission)
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._drain_queue())
        return submission.done

    async def close(self) -> None:
        if self._drain is not None:
            await asyncio.shield(self._drain)

    async def _drain_queue(self) -> None:
        while self._queue:
            group, size = [], 0
            while self._queue and (not group or size + len(self._queue[0].items) <= self.max_items):
                group.append(self._queue.pop(0))
                size += len(group[-1].items)
            await self._commit(group)
            if self._queue:
                # the requests just answered send their answers before the next group is stored:
                # nothing in it would let them run until its COMMIT (the writer's BEGIN and
                # statements run in place, kit/sqlite_driver.py)
                await asyncio.sleep(0)

    async def _commit(self, group: list[_Submission]) -> None:
        try:
            stored = await self._store(group, process=self.inline)
        except Exception:
            log.exception("intake_inline_failed_storing_pending", items=sum(len(s.items) for s in group))
            try:
                stored = await self._store(group, process=False)
            except Exception as exc:
                for submission in group:
                    if not submission.done.done():
                        submission.done.set_exception(exc)
                return
        if stored and not self.inline:
            self.on_pending()
        for submission in group:
            fresh, refused = submission.fresh, submission.refused
            if refused:
                fresh = [f for f, item in zip(fresh, submission.items, strict=True) if id(item) not in refused]
            stored = sum(fresh)
            if not submission.done.done():  # a waiting request that was cancelled meanwhile
                submission.done.set_result(Accepted(stored=stored, duplicates=len(fresh) - stored))

    async def _store(self, group: list[_Submission], *, process: bool) -> int:
        now = utcnow()
        firsts: dict[tuple[int, str], Item] = {}  # the first item of each key
        raws: dict[tuple[int, str], str] = {}  # each key's last body
        reasons: dict[tuple[int, str], str] = {}  # each key's last refusal
        for submission in group:
            channel_id, raw, refused = submission.channel_id, submission.raw, submission.refused
            fresh = submission.fresh = []
            for item in submission.items:
                key = (channel_id, item.provider_id)
                if key in firsts:
                    fresh.append(False)
                else:
                    firsts[key] = item
                    fresh.append(True)
                raws[key] = raw
                if refused and id(item) in refused:
                    reasons[key] = refused[id(item)]
        status = "done" if process else "pending"
        async with self.db.transaction() as session:
            inserted = await insert_raw_items(
                session,
                [raw_item_values(key[0], item, raws[key], now, "failed" if key in reasons else status, reasons.get(key)) for key, item in firsts.items()],
            )
            if process and inserted:
                await prefetch_sequences(session, PIPELINE_TABLES)
                prepared = [
                    self.processor.prepare(inserted[key], key[0], item, now)
                    for key, item in firsts.items()
                    if key in inserted and key not in reasons
                ]
                await self.processor.apply(session, prepared)
        for submission in group:  # a key already stored before this group is a duplicate too
            channel_id = submission.channel_id
            submission.fresh = [
                fresh and (channel_id, item.provider_id) in inserted
                for fresh, item in zip(submission.fresh, submission.items, strict=True)
            ]
        return len(inserted)
