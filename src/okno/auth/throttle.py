"""Login throttling: refused logins are rows of ``login_failures``; too many for one e-mail or
from one address within the window and the next attempt is answered 429 before any password is
checked. A table, not process memory: okno may serve from several processes (PostgreSQL), and
each must see the same count. The check is one indexed read; only a refused login writes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.errors import TooManyRequests
from okno.kit.time import utcnow
from okno.models import LoginFailure


@dataclass(frozen=True)
class LoginLimits:
    per_account: int = 10
    per_ip: int = 50
    window: timedelta = timedelta(minutes=15)


async def refuse_if_throttled(session: AsyncSession, *, email: str, ip: str, limits: LoginLimits) -> None:
    now = utcnow()
    for column, value, limit in ((LoginFailure.email, email, limits.per_account), (LoginFailure.ip, ip, limits.per_ip)):
        frees_at = await _slot_frees_at(session, column == value, limit=limit, since=now - limits.window)
        if frees_at is not None:
            wait = math.ceil((frees_at + limits.window - now).total_seconds())
            raise TooManyRequests("too many failed logins; try again in %(seconds)s seconds", retry_after=wait, seconds=wait)


async def _slot_frees_at(session: AsyncSession, condition: ColumnElement[bool], *, limit: int, since: datetime) -> datetime | None:
    """None while fewer than ``limit`` failures are in the window; else the time of the
    ``limit``-th newest, whose leaving the window lets the next attempt through."""
    return await session.scalar(
        select(LoginFailure.at).where(condition, LoginFailure.at > since).order_by(LoginFailure.at.desc()).offset(limit - 1).limit(1)
    )


async def count_failure(session: AsyncSession, *, email: str, ip: str, limits: LoginLimits) -> None:
    """Records a refused login, and forgets failures that left the window (the table stays small)."""
    now = utcnow()
    await session.execute(delete(LoginFailure).where(LoginFailure.at <= now - limits.window))
    session.add(LoginFailure(email=email[:320], ip=ip[:64], at=now))


async def forget_failures(session: AsyncSession, *, email: str) -> None:
    """A successful login clears the account's count (not the address's: one valid account must
    not let an address go on guessing others)."""
    await session.execute(delete(LoginFailure).where(LoginFailure.email == email))
