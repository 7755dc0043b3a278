from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from okno.auth.service import operator_for_token
from okno.context import AppContext
from okno.kit.errors import Forbidden, Unauthorized
from okno.models import Operator, Role

_bearer = HTTPBearer(auto_error=False)


async def get_ctx(request: Request) -> AppContext:  # async: a plain def would cost a thread hop
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


async def write_session(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    """The request owns the transaction: one commit after the route returns, before the response."""
    async with ctx.db.transaction() as session:
        yield session


async def read_session(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    async with ctx.db.reading() as session:
        yield session


WriteSession = Annotated[AsyncSession, Depends(write_session, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(read_session, scope="function")]


async def current_operator(
    ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Operator:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token")
    async with ctx.db.reading() as session:
        operator = await operator_for_token(session, credentials.credentials)
    if operator is None:
        raise Unauthorized("invalid or expired token")
    return operator


CurrentOperator = Annotated[Operator, Depends(current_operator)]


def require_role(*roles: Role) -> Callable[[Operator], Operator]:
    allowed = {r.value for r in roles}

    def check(operator: CurrentOperator) -> Operator:
        if operator.role not in allowed:
            raise Forbidden(f"needs role {' or '.join(sorted(allowed))}")
        return operator

    return check


AdminOperator = Annotated[Operator, Depends(require_role(Role.admin))]
ManagerOperator = Annotated[Operator, Depends(require_role(Role.admin, Role.supervisor))]
