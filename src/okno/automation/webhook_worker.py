"""Outbound webhook worker: POSTs the recorded ``webhook_calls`` jobs, with retries.

As the delivery worker: jobs are leased (``locked_until``) in a short transaction, the HTTP call
happens with no transaction open, the outcome is written in a second short one. Every attempt
sends the same body and the same ``Idempotency-Key`` (so a receiver sees one effect however many
attempts reach it) and, with a secret, ``X-Okno-Signature: sha256=<hex HMAC of the raw body>``.
Network errors, 5xx, 408 and 429 are retried with backoff (``Retry-After`` is a floor); any
other answer, or the last attempt, fails the job and puts the failure on the conversation's
timeline (``automation.webhook_failed``, also an event).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.automation.actor import mark_as_rule
from okno.bus.outbox import record_event
from okno.channels.delivery import RetryPolicy
from okno.kit.crypto import SecretBox
from okno.kit.db import Database
from okno.kit.outbound_urls import UrlRefused
from okno.kit.receiver_reasons import error_field, receiver_reason
from okno.kit.signing import SIGNATURE_HEADER, sign
from okno.kit.time import utcnow
from okno.models import TimelineEvent, WebhookCall

log = structlog.get_logger()

FAILED = "automation.webhook_failed"
USER_AGENT = "okno-webhooks/1"


@dataclass(frozen=True)
class _Lease:
    job_id: int
    attempt: int
    url: str
    body: str
    key: str
    secret_sealed: str | None
    rule_id: int | None
    conversation_id: int | None
    customer_id: int


@dataclass(frozen=True)
class _Outcome:
    done: bool
    reason: str | None = None
    retry: bool = False
    after_seconds: float | None = None  # the receiver's Retry-After


class WebhookCallWorker:
    def __init__(
        self, db: Database, http: httpx.AsyncClient, box: SecretBox, *, policy: RetryPolicy, batch_size: int = 20, timeout: float = 10.0
    ) -> None:
        self.db = db
        self.http = http
        self.box = box
        self.policy = policy
        self.batch_size = batch_size
        self.timeout = timeout
        self.lease_for = timedelta(seconds=timeout * 3)

    async def drain_once(self) -> int:
        leases = await self._lease()
        if leases:
            outcomes = await asyncio.gather(*(self._call(lease) for lease in leases))
            await self._settle(list(zip(leases, outcomes, strict=True)))
        return len(leases)

    async def _lease(self) -> list[_Lease]:
        now = utcnow()
        async with self.db.transaction() as session:
            jobs = (
                await session.scalars(
                    select(WebhookCall)
                    .where(
                        WebhookCall.status == "pending",
                        WebhookCall.next_attempt_at <= now,
                        or_(WebhookCall.locked_until.is_(None), WebhookCall.locked_until < now),
                    )
                    .order_by(WebhookCall.next_attempt_at, WebhookCall.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            leases = [
                _Lease(j.id, j.attempts + 1, j.url, j.body, j.idempotency_key, j.secret_sealed, j.rule_id, j.conversation_id, j.customer_id)
                for j in jobs
            ]
            for job in jobs:
                job.locked_until = now + self.lease_for
        return leases

    async def _call(self, lease: _Lease) -> _Outcome:
        body = lease.body.encode()
        headers = {"content-type": "application/json", "idempotency-key": lease.key, "user-agent": USER_AGENT}
        try:
            if lease.secret_sealed is not None:
                headers[SIGNATURE_HEADER] = sign(str(self.box.open_json(lease.secret_sealed)), body)
            response = await self.http.post(lease.url, content=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            return _Outcome(done=False, retry=True, reason=f"{type(exc).__name__}: {exc}"[:500])
        except UrlRefused as exc:  # the policy would refuse every retry too
            return _Outcome(done=False, reason=f"refused: {exc.reason}")
        except ValueError as exc:  # a secret sealed with a key that is gone
            return _Outcome(done=False, reason=str(exc))
        code = response.status_code
        if 200 <= code < 300:
            return _Outcome(done=True)
        reason = receiver_reason(code, error_field(_json(response)))  # never the body itself
        if code == 429 or code == 503:
            return _Outcome(done=False, retry=True, reason=reason, after_seconds=_retry_after(response))
        return _Outcome(done=False, retry=code in (408, 425) or code >= 500, reason=reason)

    async def _settle(self, outcomes: list[tuple[_Lease, _Outcome]]) -> None:
        now = utcnow()
        async with self.db.transaction() as session:
            for lease, outcome in outcomes:
                values: dict = {"attempts": lease.attempt, "locked_until": None, "last_error": outcome.reason}
                if outcome.done:
                    values["status"] = "done"
                elif outcome.retry and lease.attempt < self.policy.max_attempts:
                    values["next_attempt_at"] = now + timedelta(seconds=self.policy.delay(lease.attempt, outcome.after_seconds))
                else:
                    values["status"] = "failed"
                    if outcome.retry:
                        values["last_error"] = f"gave up after {lease.attempt} attempts: {outcome.reason}"
                    await _record_failure(session, lease, values["last_error"], now)
                await session.execute(update(WebhookCall).where(WebhookCall.id == lease.job_id).values(**values))


async def _record_failure(session: AsyncSession, lease: _Lease, reason: str, now: datetime) -> None:
    data = {"rule_id": lease.rule_id, "url": lease.url, "idempotency_key": lease.key, "attempts": lease.attempt, "reason": reason}
    log.warning("webhook_call_failed", job_id=lease.job_id, **data)
    entry = TimelineEvent(customer_id=lease.customer_id, conversation_id=lease.conversation_id, kind=FAILED, data=data, occurred_at=now)
    if lease.rule_id is not None:
        mark_as_rule(entry, lease.rule_id)
    session.add(entry)
    await record_event(session, FAILED, {"conversation_id": lease.conversation_id, "customer_id": lease.customer_id, **data})


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None
