"""Integration tokens. Each token acts as a hidden operator of kind ``integration`` that holds
the token's role and team memberships, so every permission check written for operators (role,
teams) applies to a token unchanged. That operator never logs in with a password, is never
routed or assigned, and is left out of operator lists and presence."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.auth.accounts import revoke_all_tokens
from okno.auth.service import NEVER, TOKEN_PREFIX, token_digest
from okno.kit.audit import audit
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.kit.time import utcnow
from okno.models import AccessToken, ApiToken, Operator, OperatorKind, Role, Team, team_members

UNUSABLE_PASSWORD = "!integration"  # no hash scheme reads it: a password login always fails


async def create_api_token(
    session: AsyncSession, *, name: str, role: str, team_ids: list[int], expires_at: datetime | None, actor_id: int
) -> tuple[ApiToken, str]:
    """Returns the token and its secret; the secret is shown this once and stored only hashed."""
    name = name.strip()
    if not name:
        raise Invalid("name must not be empty")
    if role not in Role.__members__:
        raise Invalid("unknown role %(role)r (one of: %(choices)s)", role=role, choices=", ".join(Role.__members__))
    if expires_at is not None and expires_at <= utcnow():
        raise Invalid("expires_at must be in the future")
    team_ids = sorted(set(team_ids))
    known = set(await session.scalars(select(Team.id).where(Team.id.in_(team_ids)))) if team_ids else set()
    if missing := [t for t in team_ids if t not in known]:
        raise Invalid("team_ids: no team %(missing)s", missing=', '.join(map(str, missing)))
    operator = Operator(
        email=f"token-{secrets.token_hex(8)}@integration.invalid",
        name=name,
        password_hash=UNUSABLE_PASSWORD,
        role=role,
        kind=OperatorKind.integration.value,
    )
    session.add(operator)
    await session.flush()
    if team_ids:
        await session.execute(insert(team_members), [{"team_id": t, "operator_id": operator.id} for t in team_ids])
    token = ApiToken(operator_id=operator.id, name=name, created_by=actor_id, expires_at=expires_at)
    session.add(token)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(AccessToken(operator_id=operator.id, token_hash=token_digest(secret), expires_at=expires_at or NEVER))
    await session.flush()
    data = {"name": name, "role": role, "team_ids": team_ids, "expires_at": expires_at.isoformat() if expires_at else None}
    await audit(session, actor_id=actor_id, action="api_token.created", subject=("api_token", token.id), data=data)
    return token, secret


async def revoke_api_token(session: AsyncSession, *, token_id: int, actor_id: int) -> ApiToken:
    token = await session.get(ApiToken, token_id, with_for_update=True)
    if token is None:
        raise NotFound("%(what)s %(id)s not found", what="API token", id=token_id)
    if token.revoked_at is not None:
        raise Conflict("API token %(token_id)s was already revoked", token_id=token_id)
    token.revoked_at = utcnow()
    await revoke_all_tokens(session, token.operator_id)
    await session.execute(update(Operator).where(Operator.id == token.operator_id).values(is_active=False))
    await audit(session, actor_id=actor_id, action="api_token.revoked", subject=("api_token", token.id), data={"name": token.name})
    return token


async def api_tokens(session: AsyncSession) -> list[tuple[ApiToken, Operator, list[int]]]:
    rows = (await session.execute(select(ApiToken, Operator).join(Operator, Operator.id == ApiToken.operator_id).order_by(ApiToken.id))).all()
    teams: dict[int, list[int]] = {}
    if rows:
        members = await session.execute(
            select(team_members.c.operator_id, team_members.c.team_id)
            .where(team_members.c.operator_id.in_([o.id for _, o in rows]))
            .order_by(team_members.c.team_id)
        )
        for operator_id, team_id in members:
            teams.setdefault(operator_id, []).append(team_id)
    return [(t, o, teams.get(o.id, [])) for t, o in rows]
