"""Operators, logins and bearer tokens (opaque; only their SHA-256 is stored)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from okno.customers.identities import InvalidIdentity, normalize_email
from okno.kit.audit import audit
from okno.kit.errors import Conflict, Invalid, Unauthorized
from okno.kit.time import utcnow
from okno.models import AccessToken, Operator, Role

TOKEN_PREFIX = "okno_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_operator(
    session: AsyncSession, *, email: str, password: str, name: str = "", role: str = Role.operator.value, actor_id: int | None = None
) -> Operator:
    try:
        email = normalize_email(email)
    except InvalidIdentity as exc:
        raise Invalid(exc.detail) from exc
    if role not in Role.__members__:
        raise Invalid(f"unknown role {role!r} (one of: {', '.join(Role.__members__)})")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if await session.scalar(select(func.count()).where(Operator.email == email)):
        raise Conflict(f"an operator with e-mail {email} already exists")
    password_hash = await asyncio.to_thread(hash_password, password)
    operator = Operator(email=email, name=name or email.split("@")[0], password_hash=password_hash, role=role)
    session.add(operator)
    await session.flush()
    await audit(session, actor_id=actor_id, action="operator.created", subject=("operator", operator.id), data={"role": role})
    return operator


async def log_in(session: AsyncSession, *, email: str, password: str, ttl: timedelta) -> str:
    operator = await session.scalar(select(Operator).where(Operator.email == email.strip().lower()))
    ok = await asyncio.to_thread(verify_password, password, operator.password_hash if operator else None)
    if not ok or operator is None or not operator.is_active:
        raise Unauthorized("wrong e-mail or password")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    session.add(AccessToken(operator_id=operator.id, token_hash=_digest(token), created_at=now, expires_at=now + ttl))
    await audit(session, actor_id=operator.id, action="operator.logged_in", subject=("operator", operator.id))
    return token


async def operator_for_token(session: AsyncSession, token: str) -> Operator | None:
    return await session.scalar(
        select(Operator)
        .join(AccessToken, AccessToken.operator_id == Operator.id)
        .where(
            AccessToken.token_hash == _digest(token),
            AccessToken.revoked_at.is_(None),
            AccessToken.expires_at > utcnow(),
            Operator.is_active.is_(True),
        )
    )


async def revoke_token(session: AsyncSession, token: str) -> None:
    await session.execute(update(AccessToken).where(AccessToken.token_hash == _digest(token)).values(revoked_at=utcnow()))


async def choose_language(session: AsyncSession, operator_id: int, locale: str, *, allowed: tuple[str, ...]) -> None:
    if locale not in allowed:
        raise Invalid(f"unknown language {locale!r} (one of: {', '.join(allowed)})")
    await session.execute(update(Operator).where(Operator.id == operator_id).values(locale=locale))
