from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from okno.api.deps import Ctx, CurrentOperator, WriteSession
from okno.api.schemas import LoginIn, OperatorOut, TokenOut
from okno.auth.service import log_in, revoke_token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", response_model=TokenOut)
async def login(body: LoginIn, session: WriteSession, ctx: Ctx) -> TokenOut:
    token = await log_in(session, email=body.email, password=body.password, ttl=timedelta(hours=ctx.settings.token_ttl_hours))
    return TokenOut(access_token=token)


@router.post("/logout", status_code=204)
async def logout(
    _operator: CurrentOperator, session: WriteSession, credentials: HTTPAuthorizationCredentials = Depends(HTTPBearer())
) -> None:
    await revoke_token(session, credentials.credentials)


@router.get("/me", response_model=OperatorOut)
async def me(operator: CurrentOperator) -> OperatorOut:
    return OperatorOut.model_validate(operator)
