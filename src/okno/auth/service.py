"""Operators, logins and bearer tokens (opaque; only their SHA-256 is stored)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.auth.passwords import check_password, new_password_hash
from okno.auth.throttle import LoginLimits, count_failure, forget_failures, refuse_if_throttled
from okno.customers.identities import InvalidIdentity, normalize_email
from okno.kit.audit import audit
from okno.kit.errors import Conflict, Invalid, Unauthorized
from okno.kit.db import Database
from okno.kit.time import utcnow
from okno.models import AccessToken, Operator, OperatorKind, Role

TOKEN_PREFIX = "okno_"
# the expiry of an API token created without one (a column that is never NULL keeps the hot
# token lookup one indexed comparison)
NEVER = datetime(9999, 12, 31, tzinfo=UTC)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_operator(
    session: AsyncSession, *, email: str, password: str, name: str = "", role: str = Role.operator.value, actor_id: int | None = None
) -> Operator:
    try:
        email = normalize_email(email)
    except InvalidIdentity as exc:
        raise Invalid(exc.template, **exc.params) from exc
    if role not in Role.__members__:
        raise Invalid("unknown role %(role)r (one of: %(choices)s)", role=role, choices=", ".join(Role.__members__))
    password_hash = await new_password_hash(password)  # before the first statement takes the writer
    if await session.scalar(select(func.count()).where(Operator.email == email)):
        raise Conflict("an operator with e-mail %(email)s already exists", email=email)
    operator = Operator(email=email, name=name or email.split("@")[0], password_hash=password_hash, role=role)
    session.add(operator)
    await session.flush()
    await audit(session, actor_id=actor_id, action="operator.created", subject=("operator", operator.id), data={"role": role})
    return operator


async def log_in(db: Database, *, email: str, password: str, ip: str, ttl: timedelta, limits: LoginLimits) -> str:
    """The throttle check and the password check (argon2, slow on purpose) run before any write
    transaction: the SQLite writer is taken only to store the outcome."""
    email = email.strip().lower()
    async with db.reading() as session:
        await refuse_if_throttled(session, email=email, ip=ip, limits=limits)
        operator = await session.scalar(select(Operator).where(Operator.email == email))
    ok = await check_password(password, operator.password_hash if operator else None)
    if ok and operator is not None and operator.is_active and operator.kind == OperatorKind.person.value:
        async with db.transaction() as session:
            token = _issue_token(session, operator.id, ttl)
            await forget_failures(session, email=email)
            await audit(session, actor_id=operator.id, action="operator.logged_in", subject=("operator", operator.id), data={"ip": ip})
        return token
    reason = "wrong password" if operator is not None and not ok else "unknown e-mail" if operator is None else "inactive account"
    async with db.transaction() as session:
        await count_failure(session, email=email, ip=ip, limits=limits)
        subject = ("operator", operator.id) if operator is not None else ("login", email[:64])
        await audit(session, actor_id=None, action="auth.login_failed", subject=subject, data={"email": email[:320], "ip": ip, "reason": reason})
    raise Unauthorized("wrong e-mail or password")


def _issue_token(session: AsyncSession, operator_id: int, ttl: timedelta) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    session.add(AccessToken(operator_id=operator_id, token_hash=token_digest(token), created_at=now, expires_at=now + ttl))
    return token


async def operator_for_token(session: AsyncSession, token: str) -> Operator | None:
    return await session.scalar(
        select(Operator)
        .join(AccessToken, AccessToken.operator_id == Operator.id)
        .where(
            AccessToken.token_hash == token_digest(token),
            AccessToken.revoked_at.is_(None),
            AccessToken.expires_at > utcnow(),
            Operator.is_active.is_(True),
        )
    )


async def revoke_token(session: AsyncSession, token: str) -> None:
    await session.execute(update(AccessToken).where(AccessToken.token_hash == token_digest(token)).values(revoked_at=utcnow()))


async def choose_language(session: AsyncSession, operator_id: int, locale: str, *, allowed: tuple[str, ...]) -> None:
    if locale not in allowed:
        raise Invalid("unknown language %(locale)r (one of: %(allowed)s)", locale=locale, allowed=', '.join(allowed))
    await session.execute(update(Operator).where(Operator.id == operator_id).values(locale=locale))
