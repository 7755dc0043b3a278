"""One-time codes that turn a claimed key into proof (docs/identity-proof.md).

A sender who claims a key (a website visitor typed a phone) asks for a code; the code goes out
through a channel that proves the key (``okno.channels.code_delivery``); whoever reads it there
and types it back proves the claim. A correct code attaches the requester to the key: his
profile is merged into the key's owner (reversible and audited like every merge), or, when
nobody owns the key, the key is added to his profile as an identity.

The code is 6 random digits. Only ``HMAC-SHA256(secret, salt + code)`` is stored (the secret is
the caller's: the widget's token secret), so a copy of the database gives no code. A code lives
:data:`CODE_TTL`, allows :data:`MAX_ATTEMPTS` tries, and a requester and a key each get at most
:data:`SENDS_PER_WINDOW` codes per :data:`SEND_WINDOW` (so a key can be guessed at with at most
``SENDS_PER_WINDOW × MAX_ATTEMPTS`` tries an hour, whatever number of visitors ask, and its owner
gets at most that many messages).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.customers.identities import IdentityKey
from okno.customers.matching.profiles import UNVERIFIED, refresh_profiles
from okno.customers.merge import merge_customers
from okno.customers.resolution import CustomerRef, Sender, owners_of, resolve_senders
from okno.kit.time import utcnow
from okno.kit.pii import blind_indexes
from okno.models import Customer, Identity, IdentityVerification, TimelineEvent

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
SENDS_PER_WINDOW = 3  # per requester, and per key
SEND_WINDOW = timedelta(hours=1)
PENDING, VERIFIED, LOCKED, SUPERSEDED = "pending", "verified", "locked", "superseded"


class TooManyCodes(Exception):
    """The requester (``who="requester"``) or the key (``who="key"``) had its codes for now."""

    def __init__(self, who: str, retry_after: timedelta) -> None:
        super().__init__(f"too many codes asked for this {who}; try again in {int(retry_after.total_seconds() // 60) + 1} min")
        self.who = who
        self.retry_after = retry_after


@dataclass(frozen=True)
class IssuedCode:
    verification: IdentityVerification
    code: str  # the plain code: handed to the delivery, never stored


class Outcome(enum.StrEnum):
    verified = "verified"
    wrong = "wrong_code"
    expired = "expired"
    locked = "too_many_attempts"
    none = "no_code"


@dataclass(frozen=True)
class CodeCheck:
    outcome: Outcome
    attempts_left: int = 0
    customer_id: int | None = None  # verified: the customer the requester is now part of
    merge_id: int | None = None  # verified by merging the requester's profile into the key's owner


def code_digest(secret: bytes, salt: str, code: str) -> str:
    return hmac.new(secret, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


async def issue_code(
    session: AsyncSession, *, channel_id: int, requester: IdentityKey, key: IdentityKey, secret: bytes, now: datetime | None = None
) -> IssuedCode:
    """A new code for ``requester`` to prove ``key`` (his earlier pending code stops working).
    Raises :class:`TooManyCodes` past the send limits; the caller delivers the code after commit."""
    now = now or utcnow()
    await check_send_limits(session, channel_id=channel_id, requester=requester, key=key, now=now)
    table = IdentityVerification
    mine = (table.channel_id == channel_id, table.requester_kind == requester.kind, table.requester_value == requester.value)
    await session.execute(update(table).where(*mine, table.status == PENDING).values(status=SUPERSEDED))
    owner = (await owners_of(session, {key})).get(key)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = secrets.token_hex(16)
    row = IdentityVerification(
        channel_id=channel_id, requester_kind=requester.kind, requester_value=requester.value, kind=key.kind, value=key.value,
        owner_id=owner.id if owner else None, salt=salt, code_hash=code_digest(secret, salt, code), status=PENDING,
        attempts=0, created_at=now, expires_at=now + CODE_TTL,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return IssuedCode(row, code)


async def check_send_limits(session: AsyncSession, *, channel_id: int, requester: IdentityKey, key: IdentityKey, now: datetime | None = None) -> None:
    """Raises :class:`TooManyCodes` when the requester or the key had its codes for now. Callers
    may ask a reader first, so that a flood of requests never takes the writer."""
    now = now or utcnow()
    table = IdentityVerification
    mine = (table.channel_id == channel_id, table.requester_kind == requester.kind, table.requester_value == requester.value)
    for who, where in (("requester", mine), ("key", (table.kind == key.kind, table.value_index.in_(blind_indexes(key.kind, key.value))))):
        count, oldest = (await session.execute(select(func.count(), func.min(table.created_at)).where(*where, table.created_at > now - SEND_WINDOW))).one()
        if count >= SENDS_PER_WINDOW:
            raise TooManyCodes(who, oldest + SEND_WINDOW - now)


async def record_delivery(session: AsyncSession, verification_id: int, via_channel_id: int | None) -> None:
    await session.execute(update(IdentityVerification).where(IdentityVerification.id == verification_id).values(via_channel_id=via_channel_id))


async def check_code(
    session: AsyncSession, *, channel_id: int, requester: IdentityKey, code: str, secret: bytes, now: datetime | None = None
) -> CodeCheck:
    """Checks ``code`` against the requester's latest code; a correct one proves its key. A wrong
    one counts an attempt (the caller commits it); the last allowed wrong one locks the code."""
    now = now or utcnow()
    query = _latest_code(channel_id, requester)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()  # two tabs guessing at once still count every attempt
    row = await session.scalar(query)
    settled = _settled(row, now)
    if settled is not None:
        return CodeCheck(settled)
    assert row is not None
    row.attempts += 1
    if not hmac.compare_digest(code_digest(secret, row.salt, code), row.code_hash):
        if row.attempts >= MAX_ATTEMPTS:
            row.status = LOCKED
            return CodeCheck(Outcome.locked)
        return CodeCheck(Outcome.wrong, attempts_left=MAX_ATTEMPTS - row.attempts)
    proven = await _prove(session, row, requester)
    if proven is None:  # the key changed hands since the code went out: the code proves nothing now
        row.status = SUPERSEDED
        return CodeCheck(Outcome.expired)
    customer_id, merge_id = proven
    row.status, row.verified_at, row.merge_id = VERIFIED, now, merge_id
    await session.flush()
    return CodeCheck(Outcome.verified, customer_id=customer_id, merge_id=merge_id)


async def code_settled(session: AsyncSession, *, channel_id: int, requester: IdentityKey, now: datetime | None = None) -> Outcome | None:
    """The answer any code would get without checking it (no code, expired, locked), or None when
    a live code waits: read first, so that codes typed with none pending never take the writer."""
    return _settled(await session.scalar(_latest_code(channel_id, requester)), now or utcnow())


def _latest_code(channel_id: int, requester: IdentityKey) -> Select:
    table = IdentityVerification
    return (
        select(table)
        .where(table.channel_id == channel_id, table.requester_kind == requester.kind, table.requester_value == requester.value)
        .order_by(table.id.desc())
        .limit(1)
    )


def _settled(row: IdentityVerification | None, now: datetime) -> Outcome | None:
    if row is None or row.status in (VERIFIED, SUPERSEDED):
        return Outcome.none
    if row.status == LOCKED:
        return Outcome.locked
    if row.expires_at <= now:
        return Outcome.expired
    return None


async def _prove(session: AsyncSession, row: IdentityVerification, requester: IdentityKey) -> tuple[int, int | None] | None:
    key = IdentityKey(row.kind, row.value)
    owners = await owners_of(session, {key, requester})
    owner = owners.get(key)
    if (owner.id if owner else None) != row.owner_id:
        return None
    mine = owners.get(requester) or await _requester_profile(session, requester, row.channel_id)
    assert mine.id is not None
    await _drop_claim(session, mine.id, key)
    note = f"{requester} proved {key} with a one-time code" + (f" sent through channel {row.via_channel_id}" if row.via_channel_id else "")
    if owner is None:  # the code reached the key itself (an SMS gateway, e-mail): the key is his
        session.add(Identity(customer_id=mine.id, kind=key.kind, value=key.value, source_channel_id=row.via_channel_id))
        session.add(TimelineEvent(customer_id=mine.id, kind="identity.added", data={"identity": str(key), "verified": note}))
        await session.flush()
        await refresh_profiles(session, [mine.id])
        return mine.id, None
    if owner.id == mine.id:
        return mine.id, None
    merge = await merge_customers(session, survivor_id=owner.id, merged_id=mine.id, actor_id=None, reason=note, origin="verified")  # type: ignore[arg-type]
    return owner.id, merge.id  # type: ignore[return-value]


async def _requester_profile(session: AsyncSession, requester: IdentityKey, channel_id: int) -> CustomerRef:
    """The requester's first touch is still being ingested: his profile starts here. On PostgreSQL
    an ingest transaction may create it at the same moment; then that one is used."""
    try:
        async with session.begin_nested():
            ref = (await resolve_senders(session, [Sender(keys=(requester,), name="", channel_id=channel_id)])).customers[0]
    except IntegrityError:
        return (await owners_of(session, {requester}))[requester]
    await record_event(session, "customer.created", {"customer_id": ref.id})
    return ref


async def _drop_claim(session: AsyncSession, customer_id: int, key: IdentityKey) -> None:
    """The key is proven now: it stops being one of the profile's unproven claims."""
    customer = await session.get(Customer, customer_id)
    claims = (customer.attributes or {}).get(UNVERIFIED) if customer else None
    if customer is not None and claims and str(key) in claims:
        rest = [c for c in claims if c != str(key)]
        attributes = {k: v for k, v in customer.attributes.items() if k != UNVERIFIED} | ({UNVERIFIED: rest} if rest else {})
        customer.attributes = attributes
        await session.flush()
