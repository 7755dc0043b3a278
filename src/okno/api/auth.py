from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from okno.api.deps import Ctx, CurrentOperator, WriteSession
from okno.api.schemas import LoginIn, OperatorOut, ProfileIn, TokenOut
from okno.api.login import sign_in
from okno.auth.service import revoke_token
from okno.kit.errors import Forbidden
from okno.models import OperatorKind
from okno.operators.profile import update_profile

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", response_model=TokenOut, responses={429: {"description": "too many failed logins; see Retry-After"}})
async def login(body: LoginIn, request: Request, ctx: Ctx) -> TokenOut:
    """No write session: the password is checked before the writer is taken (okno.api.login)."""
    return TokenOut(access_token=await sign_in(request, ctx, email=body.email, password=body.password))


@router.post("/logout", status_code=204)
async def logout(
    operator: CurrentOperator, session: WriteSession, credentials: HTTPAuthorizationCredentials = Depends(HTTPBearer())
) -> None:
    if operator.kind != OperatorKind.person.value:
        raise Forbidden("an API token is revoked by an admin: DELETE /api/v1/api-tokens/{id}")
    await revoke_token(session, credentials.credentials)


@router.get("/me", response_model=OperatorOut)
async def me(operator: CurrentOperator) -> OperatorOut:
    return OperatorOut.model_validate(operator)


@router.patch("/me", response_model=OperatorOut)
async def update_me(body: ProfileIn, operator: CurrentOperator, session: WriteSession) -> OperatorOut:
    """The signed-in person's own name, language, time zone, colours and e-mail signature (an API token has no profile)."""
    if operator.kind != OperatorKind.person.value:
        raise Forbidden("an API token has no profile of its own")
    changed = await update_profile(session, operator.id, name=body.name, locale=body.locale, time_zone=body.time_zone, signature=body.signature, theme=body.theme)
    return OperatorOut.model_validate(changed)
