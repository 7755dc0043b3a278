"""The poll worker: polling ingress for channels whose adapters poll (``PollsProvider``).

Each polling channel has one ``channel_poll_state`` row: its durable cursor and the health of
its polls. A round:

1. **claim** due rows of enabled channels in a short transaction (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL, so any number of workers share the channels) and lease them (``locked_until``);
2. **poll** each channel's adapter with no transaction open;
3. **store** what it found in ONE transaction per channel: the raw items (``ON CONFLICT DO
   NOTHING`` on (channel, provider id), the same durable intake as webhooks; the ingest worker
   processes them) and the new cursor. A crash before that commit leaves the old cursor: the
   next poll fetches the same items and the duplicates are ignored. Nothing is lost, nothing is
   stored twice. The cursor is written only while this worker still holds the lease, so a slow
   worker whose lease ran out can't move a cursor another one has advanced.
4. on an error, count the failure and poll again after an exponential backoff (or the
   provider's hint); ``ChannelNeedsAction`` (a 401) also turns the channel's health to
   ``needs_action``; the next successful poll turns it back to ``ok``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.channels.base import ChannelNeedsAction, DeliveryError, InboundMessage, PollBatch, RetryLater
from okno.channels.delivery import RetryPolicy
from okno.channels.directory import ChannelDirectory, LiveChannel
from okno.channels.health import NEEDS_ACTION, report_needs_action, report_ok
from okno.channels.inbound import insert_raw_items, raw_item_row, raw_text
from okno.channels.ingest import sender_keys
from okno.channels.int_range import out_of_range_int, out_of_range_reason
from okno.channels.registry import ADAPTERS
from okno.kit.db import Database
from okno.kit.db_wake import call_after_commit, request_wake
from okno.kit.outbound_urls import UrlRefused
from okno.kit.time import utcnow
from okno.models import Channel, ChannelPollState

log = structlog.get_logger()

MAX_ERROR = 2000
RECHECK = timedelta(minutes=1)  # a claimed channel that turned out disabled or of an uninstalled kind


@dataclass(frozen=True)
class _Claim:
    channel_id: int
    cursor: dict[str, Any]
    failures: int
    lease: datetime  # our locked_until: the store checks we still hold it


@dataclass(frozen=True)
class PollFailure:
    reason: str
    retry_after: float | None = None  # the provider's hint
    needs_action: bool = False


class PollWorker:
    def __init__(
        self,
        db: Database,
        channels: ChannelDirectory,
        http: httpx.AsyncClient,
        *,
        policy: RetryPolicy,
        default_region: str = "RU",
        batch_size: int = 10,
        poll_timeout: float = 60.0,
    ) -> None:
        self.db = db
        self.channels = channels
        self.http = http
        self.policy = policy
        self.default_region = default_region
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.lease_for = timedelta(seconds=poll_timeout * 2)
        self._states_checked = False

    async def drain_once(self) -> int:
        if not self._states_checked:
            await self._add_missing_states()
            self._states_checked = True
        if not await self._any_due():
            return 0
        claims = await self._claim()
        await asyncio.gather(*(self._round(claim) for claim in claims))
        return len(claims)

    # ---- claim ------------------------------------------------------------------------------

    def _due(self, now: datetime):  # noqa: ANN202
        return (
            ChannelPollState.next_poll_at <= now,
            or_(ChannelPollState.locked_until.is_(None), ChannelPollState.locked_until < now),
            Channel.is_active.is_(True),
        )

    async def _any_due(self) -> bool:
        """A read first: the writer (SQLite's single one) is taken only when a poll is due."""
        async with self.db.reading() as session:
            query = select(ChannelPollState.channel_id).join(Channel, Channel.id == ChannelPollState.channel_id)
            return (await session.scalar(select(exists(query.where(*self._due(utcnow())))))) or False

    async def _claim(self) -> list[_Claim]:
        now = utcnow()
        lease = now + self.lease_for
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(ChannelPollState.channel_id, ChannelPollState.cursor, ChannelPollState.failures)
                    .join(Channel, Channel.id == ChannelPollState.channel_id)
                    .where(*self._due(now))
                    .order_by(ChannelPollState.next_poll_at, ChannelPollState.channel_id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True, of=ChannelPollState)
                )
            ).all()
            if rows:
                await session.execute(
                    update(ChannelPollState)
                    .where(ChannelPollState.channel_id.in_([r.channel_id for r in rows]))
                    .values(locked_until=lease, last_polled_at=now)
                )
        return [_Claim(r.channel_id, dict(r.cursor or {}), r.failures, lease) for r in rows]

    # ---- one channel ------------------------------------------------------------------------

    async def _round(self, claim: _Claim) -> None:
        channel = await self.channels.get(claim.channel_id)
        if channel is None or not callable(getattr(channel.adapter, "poll", None)):
            await self._release(claim)  # disabled meanwhile, its plugin removed, or it no longer polls
            return
        outcome = await self._poll(channel, claim)
        if isinstance(outcome, PollBatch):
            try:
                await self.store(channel, claim, outcome)
                return
            except Exception as exc:
                log.exception("poll_store_failed", channel_id=claim.channel_id)
                outcome = PollFailure(f"storing what was polled failed: {type(exc).__name__}: {exc}")
        await self._record_failure(channel, claim, outcome)

    async def _poll(self, channel: LiveChannel, claim: _Claim) -> PollBatch | PollFailure:
        try:
            async with asyncio.timeout(self.poll_timeout):
                batch = await channel.adapter.poll(channel.config, dict(claim.cursor), self.http)  # type: ignore[attr-defined]
        except ChannelNeedsAction as exc:
            return PollFailure(exc.reason, needs_action=True)
        except RetryLater as exc:
            return PollFailure(exc.reason, retry_after=exc.after_seconds)
        except DeliveryError as exc:
            return PollFailure(exc.reason)
        except TimeoutError:
            return PollFailure(f"the poll took longer than {self.poll_timeout:.0f}s")
        except httpx.HTTPError as exc:
            return PollFailure(f"network error: {type(exc).__name__}: {exc}")
        except UrlRefused as exc:  # the channel's settings point at an address okno may not call
            return PollFailure(f"refused: {exc.reason}", needs_action=True)
        except Exception as exc:  # an adapter bug must not kill the worker: back off, show it
            log.exception("adapter_poll_crashed", channel_id=claim.channel_id)
            return PollFailure(f"adapter error: {type(exc).__name__}: {exc}")
        if not isinstance(batch, PollBatch):
            return PollFailure(f"adapter error: poll returned {type(batch).__name__}, not a PollBatch")
        return batch

    async def store(self, channel: LiveChannel, claim: _Claim, batch: PollBatch) -> int:
        """Stores the polled items and the new cursor in one transaction; the number of new items."""
        now = utcnow()
        raw = raw_text(batch.raw)
        rows = [
            raw_item_row(channel.id, item, raw, now, status="pending" if why is None else "failed", error=why, item_as_text=why is not None)
            for item, why in self._checked(batch.items)
        ]
        async with self.db.transaction() as session:
            held = await session.execute(
                update(ChannelPollState)
                .where(ChannelPollState.channel_id == channel.id, ChannelPollState.locked_until == claim.lease)
                .values(
                    cursor=batch.cursor,
                    next_poll_at=now + timedelta(seconds=max(0.0, batch.next_poll_in)),
                    locked_until=None,
                    last_success_at=now,
                    failures=0,
                    last_error=None,
                )
            )
            if held.rowcount != 1:
                raise LeaseLost(f"channel {channel.id}: the poll lease ran out before the items were stored")
            inserted = await insert_raw_items(session, _unique(rows)) if rows else {}
            if any(row["status"] == "pending" for row in rows if (row["channel_id"], row["provider_id"]) in inserted):
                request_wake(session, "ingest")
            if channel.health == NEEDS_ACTION and await report_ok(session, channel.id):
                call_after_commit(session, lambda: self.channels.invalidate(channel.id))
        return len(inserted)

    def _checked(self, items: list) -> list[tuple[Any, str | None]]:
        """Each item with why it can't be processed (a message whose sender has no usable key, an
        integer okno cannot store and read back): such an item is kept as ``failed`` and the poll
        goes on, where one bad entry would otherwise fail every poll of the channel."""
        checked = []
        for item in items:
            why = None
            if (where := out_of_range_int(item)) is not None:
                why = out_of_range_reason(where)
            elif isinstance(item, InboundMessage):
                keys, rejected = sender_keys(item, self.default_region)
                if not keys:
                    why = "no usable sender identity: " + ("; ".join(rejected) or "none given")
            checked.append((item, why))
        return checked

    async def _record_failure(self, channel: LiveChannel, claim: _Claim, failure: PollFailure) -> None:
        failures = claim.failures + 1
        delay = self.policy.delay(failures, failure.retry_after)
        log.warning("poll_failed", channel_id=channel.id, failures=failures, retry_in=round(delay, 1), reason=failure.reason)
        async with self.db.transaction() as session:
            await session.execute(
                update(ChannelPollState)
                .where(ChannelPollState.channel_id == channel.id, ChannelPollState.locked_until == claim.lease)
                .values(failures=failures, last_error=failure.reason[:MAX_ERROR], next_poll_at=utcnow() + timedelta(seconds=delay), locked_until=None)
            )
            if failure.needs_action and await report_needs_action(session, channel.id, failure.reason):
                call_after_commit(session, lambda: self.channels.invalidate(channel.id))

    async def _release(self, claim: _Claim) -> None:
        """Not polled after all: look again later (enabling the channel polls it at once)."""
        async with self.db.transaction() as session:
            await session.execute(
                update(ChannelPollState)
                .where(ChannelPollState.channel_id == claim.channel_id, ChannelPollState.locked_until == claim.lease)
                .values(locked_until=None, next_poll_at=utcnow() + RECHECK)
            )

    async def _add_missing_states(self) -> None:
        """Channels of polling kinds that have no cursor row (created before their kind polled)."""
        kinds = [kind for kind, cls in ADAPTERS.items() if cls.capabilities.polls]
        if not kinds:
            return
        async with self.db.transaction() as session:
            missing = (
                await session.scalars(
                    select(Channel.id).where(
                        Channel.kind.in_(kinds), ~exists().where(ChannelPollState.channel_id == Channel.id)
                    )
                )
            ).all()
            for channel_id in missing:
                session.add(ChannelPollState(channel_id=channel_id, cursor={}, next_poll_at=utcnow()))


class LeaseLost(Exception):
    pass


def _unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per provider id: a batch may repeat an item (the first one is kept)."""
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(row["provider_id"], row)
    return list(seen.values())


async def poll_states(session: AsyncSession, channel_ids: list[int]) -> dict[int, ChannelPollState]:
    """The poll health of these channels (those that poll), for admins."""
    if not channel_ids:
        return {}
    rows = await session.scalars(select(ChannelPollState).where(ChannelPollState.channel_id.in_(channel_ids)))
    return {state.channel_id: state for state in rows.all()}
