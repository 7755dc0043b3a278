"""Outbound delivery worker: hands queued messages to their channel adapter, with retries.

Jobs are leased (``locked_until``) in a short transaction so several workers never send the same
job at once; the provider call happens with no transaction open; the outcome is written in a
second short transaction. The job's idempotency key goes out on every attempt, so a retry of a
delivery that did land is a no-op at the provider.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, replace
from datetime import timedelta

import httpx
import structlog
from sqlalchemy import or_, select, update

from okno.bus.outbox import record_events
from okno.channels.base import (
    ChannelNeedsAction,
    DeliveryError,
    OutboundFile,
    OutboundMessage,
    OutboundTemplate,
    PermanentFailure,
    Recipient,
    RetryLater,
    SendResult,
)
from okno.channels.directory import ChannelDirectory, LiveChannel
from okno.channels.health import NEEDS_ACTION, report_needs_action, report_ok
from okno.channels.interactive import ChoicesRefused, choose_rendering, fallback_text, interactive_of
from okno.conversations.statuses import lock_provider_messages, requeue_deferred_statuses
from okno.files.storage import FileStorage
from okno.files.uploads import stored_files
from okno.kit import metrics
from okno.kit.db import Database
from okno.kit.db_wake import call_after_commit
from okno.kit.outbound_urls import UrlRefused
from okno.kit.time import utcnow
from okno.models import Channel, Conversation, Customer, DeliveryJob, Identity, Message, MessageStatus, StoredFile, TimelineEvent

log = structlog.get_logger()


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 2.0
    max_seconds: float = 600.0

    def delay(self, attempt: int, hint: float | None = None) -> float:
        """Exponential backoff with ±20 % jitter; a provider's hint is a floor, never shortened."""
        backoff = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)
        return max(backoff if hint is None else 0.0, hint or 0.0)


@dataclass(frozen=True)
class _Lease:
    job_id: int
    attempt: int
    channel_id: int
    outbound: OutboundMessage


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        channels: ChannelDirectory,
        http: httpx.AsyncClient,
        *,
        policy: RetryPolicy,
        batch_size: int = 20,
        send_timeout: float = 10.0,
        files: FileStorage | None = None,
    ) -> None:
        self.files = files
        self.db = db
        self.channels = channels
        self.http = http
        self.policy = policy
        self.batch_size = batch_size
        self.lease_for = timedelta(seconds=send_timeout * 3)

    async def drain_once(self) -> int:
        leases = await self._lease()
        if leases:
            live = {cid: await self.channels.get(cid) for cid in {lease.channel_id for lease in leases}}
            outcomes = await asyncio.gather(*(self._send(lease, live[lease.channel_id]) for lease in leases))
            await self._settle(list(zip(leases, outcomes, strict=True)), live)
        return len(leases)

    async def _lease(self) -> list[_Lease]:
        now = utcnow()
        async with self.db.transaction() as session:
            jobs = (
                await session.execute(
                    select(DeliveryJob.id, DeliveryJob.attempts, DeliveryJob.channel_id, DeliveryJob.idempotency_key, DeliveryJob.message_id)
                    .join(Channel, Channel.id == DeliveryJob.channel_id)
                    .where(
                        Channel.is_active.is_(True),  # a disabled channel's replies wait for it
                        DeliveryJob.status == "pending",
                        DeliveryJob.next_attempt_at <= now,
                        or_(DeliveryJob.locked_until.is_(None), DeliveryJob.locked_until < now),
                    )
                    .order_by(DeliveryJob.next_attempt_at, DeliveryJob.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True, of=DeliveryJob)
                )
            ).all()
            if not jobs:
                return []
            await session.execute(
                update(DeliveryJob).where(DeliveryJob.id.in_([j.id for j in jobs])).values(locked_until=now + self.lease_for)
            )
            found = (
                await session.execute(
                    select(Message, Conversation.thread_key)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(Message.id.in_([j.message_id for j in jobs]))
                )
            ).all()
            messages = {m.id: m for m, _ in found}
            threads = {m.id: thread_key for m, thread_key in found}
            recipients = await _recipients(session, {m.customer_id for m in messages.values()})
            files = await stored_files(session, {a["stored_file_id"] for m in messages.values() for a in _stored(m)})
        return [
            _Lease(
                job_id=j.id,
                attempt=j.attempts + 1,
                channel_id=j.channel_id,
                outbound=OutboundMessage(
                    message_id=j.message_id,
                    conversation_id=messages[j.message_id].conversation_id,
                    text=messages[j.message_id].text,
                    recipient=recipients[messages[j.message_id].customer_id],
                    idempotency_key=j.idempotency_key,
                    attempt=j.attempts + 1,
                    attachments=tuple(messages[j.message_id].attachments or ()),
                    interactive=interactive_of(messages[j.message_id].content),
                    thread_key=threads[j.message_id],
                    files=self._outbound_files(messages[j.message_id], files),
                    template=_template(messages[j.message_id]),
                ),
            )
            for j in jobs
        ]

    def _outbound_files(self, message: Message, files: dict[int, StoredFile]) -> tuple[OutboundFile, ...]:
        if self.files is None:
            return ()
        found = []
        for attachment in _stored(message):
            row = files.get(attachment["stored_file_id"])
            if row is not None:  # a file row deleted since: the message goes without it
                found.append(
                    OutboundFile(
                        stored_file_id=row.id, kind=attachment.get("kind", "file"), filename=row.filename, content_type=row.content_type,
                        size=row.size, sha256=row.sha256, storage_key=row.storage_key, blobs=self.files.blobs,
                        download_url=self.files.links.url_for(row.id, row.sha256),
                    )
                )
        return tuple(found)

    async def _send(self, lease: _Lease, channel: LiveChannel | None) -> SendResult | DeliveryError:
        if channel is None:  # disabled since the lease (another process): wait for it
            return RetryLater(f"channel {lease.channel_id} is disabled", after_seconds=60.0)
        try:
            return await channel.adapter.send(channel.config, as_rendered(channel.adapter.capabilities, lease.outbound), self.http)
        except DeliveryError as exc:
            return exc
        except UrlRefused as exc:  # the channel's settings point where okno may not call: an admin must act
            return ChannelNeedsAction(f"refused: {exc.reason}")
        except Exception as exc:  # an adapter bug must not kill the worker; retry, then fail visibly
            log.exception("adapter_send_crashed", channel_id=lease.channel_id, job_id=lease.job_id)
            return DeliveryError(f"adapter error: {type(exc).__name__}: {exc}")

    async def _settle(self, outcomes: list[tuple[_Lease, SendResult | DeliveryError]], live: dict[int, LiveChannel | None]) -> None:
        now = utcnow()
        events: list[tuple[str, dict]] = []
        async with self.db.transaction() as session:
            await self._note_health(session, outcomes, live)
            # before recording provider ids: a status webhook racing this send waits, then finds them
            sent = [(lease.channel_id, o.provider_message_id) for lease, o in outcomes if isinstance(o, SendResult) and o.provider_message_id]
            await lock_provider_messages(session, sent)
            for lease, outcome in outcomes:
                msg = lease.outbound
                if isinstance(outcome, SendResult):
                    job_values = {"status": "done", "attempts": lease.attempt, "last_error": None, "locked_until": None}
                    msg_values = {"status": MessageStatus.sent.value, "provider_message_id": outcome.provider_message_id, "error": None, "status_updated_at": now}
                    topic = "message.sent"
                elif isinstance(outcome, PermanentFailure) or lease.attempt >= self.policy.max_attempts:
                    reason = outcome.reason if isinstance(outcome, PermanentFailure) else f"gave up after {lease.attempt} attempts: {outcome.reason}"
                    job_values = {"status": "failed", "attempts": lease.attempt, "last_error": reason, "locked_until": None}
                    msg_values = {"status": MessageStatus.failed.value, "error": reason, "status_updated_at": now}
                    topic = "message.failed"
                    metrics.DELIVERY_FAILURES.labels("failed").inc()
                else:
                    hint = outcome.after_seconds if isinstance(outcome, RetryLater) else None
                    delay = self.policy.delay(lease.attempt, hint)
                    job_values = {
                        "attempts": lease.attempt,
                        "last_error": outcome.reason,
                        "locked_until": None,
                        "next_attempt_at": now + timedelta(seconds=delay),
                    }
                    msg_values = {"error": f"retrying in {delay:.1f}s (attempt {lease.attempt}): {outcome.reason}"}
                    topic = None
                    metrics.DELIVERY_FAILURES.labels("retried").inc()
                await session.execute(update(DeliveryJob).where(DeliveryJob.id == lease.job_id).values(**job_values))
                await session.execute(update(Message).where(Message.id == msg.message_id).values(**msg_values))
                if isinstance(outcome, SendResult) and outcome.provider_message_id:
                    await requeue_deferred_statuses(session, lease.channel_id, outcome.provider_message_id)
                if topic:
                    data = {"message_id": msg.message_id, "conversation_id": msg.conversation_id, "customer_id": msg.recipient.customer_id, "channel_id": lease.channel_id}
                    if topic == "message.failed":
                        data["reason"] = msg_values["error"]
                    events.append((topic, data))
                    session.add(
                        TimelineEvent(
                            customer_id=msg.recipient.customer_id,
                            conversation_id=msg.conversation_id,
                            message_id=msg.message_id,
                            channel_id=lease.channel_id,
                            kind=topic,
                            data={k: v for k, v in data.items() if k == "reason"},
                            occurred_at=now,
                        )
                    )
            await record_events(session, events)


    async def _note_health(self, session, outcomes: list, live: dict[int, LiveChannel | None]) -> None:  # noqa: ANN001
        """A channel-level refusal (a revoked token) makes the channel need action; a send that
        works again on a channel that needed action makes it ``ok``. Rare: no statement otherwise."""
        refused = {lease.channel_id: o.reason for lease, o in outcomes if isinstance(o, ChannelNeedsAction)}
        working = {
            lease.channel_id for lease, o in outcomes
            if isinstance(o, SendResult) and lease.channel_id not in refused and (ch := live.get(lease.channel_id)) is not None and ch.health == NEEDS_ACTION
        }
        changed = [cid for cid, reason in refused.items() if await report_needs_action(session, cid, reason)]
        changed += [cid for cid in working if await report_ok(session, cid)]
        for cid in changed:
            call_after_commit(session, lambda cid=cid: self.channels.invalidate(cid))


def as_rendered(capabilities, outbound: OutboundMessage) -> OutboundMessage:  # noqa: ANN001
    """The message as the adapter gets it: choices in a style it declared, else numbered text."""
    offered = outbound.interactive
    if offered is None:
        return outbound
    try:
        rendering = choose_rendering(capabilities.interactive, offered, outbound.text)
    except ChoicesRefused as exc:  # accepted when queued; the adapter's limits shrank since
        raise PermanentFailure(str(exc)) from exc
    if rendering.style is None:
        return replace(outbound, text=fallback_text(outbound.text, offered), interactive=None)
    return replace(outbound, interactive=offered.model_copy(update={"style": rendering.style}))


def _stored(message: Message) -> list[dict]:
    """The message's attachments that are files okno keeps (an operator's uploads)."""
    return [a for a in message.attachments or () if isinstance(a, dict) and isinstance(a.get("stored_file_id"), int)]


def _template(message: Message) -> OutboundTemplate | None:
    chosen = (message.content or {}).get("template")
    if not isinstance(chosen, dict):
        return None
    return OutboundTemplate(name=chosen["name"], language=chosen["language"], parameters=tuple(chosen.get("parameters") or ()))


async def _recipients(session, customer_ids: set[int]) -> dict[int, Recipient]:  # noqa: ANN001
    names = dict((await session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(customer_ids)))).all())
    keys: dict[int, list[tuple[str, str]]] = {cid: [] for cid in customer_ids}
    rows = await session.execute(
        select(Identity.customer_id, Identity.kind, Identity.value).where(Identity.customer_id.in_(customer_ids)).order_by(Identity.id)
    )
    for cid, kind, value in rows:
        keys[cid].append((kind, value))
    return {cid: Recipient(customer_id=cid, name=names.get(cid, ""), identities=tuple(keys[cid])) for cid in customer_ids}
