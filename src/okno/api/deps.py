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


SESSION_COOKIE = "okno_session"
# The web UI authenticates with an HttpOnly cookie. A cross-site page can make a browser send
# that cookie but cannot add a custom header without a CORS preflight (which okno never
# grants), so state-changing calls authenticated by the cookie must carry this header.
WEB_CLIENT_HEADER = "x-okno-client"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def current_operator(
    request: Request, ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Operator:
    cookie_token = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        token = credentials.credentials
    elif cookie := request.cookies.get(SESSION_COOKIE):
        if request.method not in _SAFE_METHODS and request.headers.get(WEB_CLIENT_HEADER) != "web":
            raise Forbidden("a request authenticated by the session cookie must send the %(header)s header", header=WEB_CLIENT_HEADER)
        token = cookie_token = cookie
    else:
        raise Unauthorized("missing bearer token")
    async with ctx.db.reading() as session:
        operator = await operator_for_token(session, token)
    if operator is None:
        raise Unauthorized("invalid or expired token")
    if cookie_token is not None:  # the web UI: refusals in the operator's saved language (okno.api.problems)
        request.state.web_locale = operator.locale
    return operator


CurrentOperator = Annotated[Operator, Depends(current_operator)]


def require_role(*roles: Role) -> Callable[[Operator], Operator]:
    allowed = {r.value for r in roles}

    def check(operator: CurrentOperator) -> Operator:
        if operator.role not in allowed:
            raise Forbidden("needs role %(roles)s", roles=" or ".join(sorted(allowed)))
        return operator

    return check


AdminOperator = Annotated[Operator, Depends(require_role(Role.admin))]
ManagerOperator = Annotated[Operator, Depends(require_role(Role.admin, Role.supervisor))]
