"""Accounts: an operator's own password, integration tokens (admins), the audit log (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from okno.api.account_schemas import ApiTokenCreatedOut, ApiTokenIn, ApiTokenOut, AuditEntryOut, PasswordChangeIn
from okno.api.deps import SESSION_COOKIE, AdminOperator, Ctx, CurrentOperator, ReadSession, WriteSession
from okno.api.pagination import Limit
from okno.audit.queries import AuditFilter, audit_page
from okno.auth.accounts import change_own_password
from okno.auth.api_tokens import api_tokens, create_api_token, revoke_api_token
from okno.auth.service import token_digest
from okno.kit.errors import Forbidden
from okno.kit.time import utcnow
from okno.models import ApiToken, Operator, OperatorKind

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/auth/password", status_code=204, response_class=Response, summary="Change my password: my other sessions end")
async def change_my_password(body: PasswordChangeIn, request: Request, operator: CurrentOperator, ctx: Ctx) -> None:
    if operator.kind != OperatorKind.person.value:
        raise Forbidden("an API token has no password")
    await change_own_password(
        ctx.db, operator=operator, current=body.current_password, new=body.new_password, token_hash=token_digest(_presented_token(request))
    )


def _presented_token(request: Request) -> str:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else request.cookies.get(SESSION_COOKIE, "")


@router.post("/api-tokens", response_model=ApiTokenCreatedOut, status_code=201, summary="Create an integration token (shown once)")
async def add_api_token(body: ApiTokenIn, admin: AdminOperator, session: WriteSession) -> ApiTokenCreatedOut:
    token, secret = await create_api_token(
        session, name=body.name, role=body.role, team_ids=body.team_ids, expires_at=body.expires_at, actor_id=admin.id
    )
    operator = await session.get(Operator, token.operator_id)
    return ApiTokenCreatedOut(**_token_out(token, operator, sorted(set(body.team_ids))).model_dump(), token=secret)


@router.get("/api-tokens")
async def list_api_tokens(_: AdminOperator, session: ReadSession) -> dict:
    return {"items": [_token_out(t, o, teams) for t, o, teams in await api_tokens(session)]}


@router.delete("/api-tokens/{token_id}", status_code=204, response_class=Response, summary="Revoke an integration token: 401 from then on")
async def remove_api_token(token_id: int, admin: AdminOperator, session: WriteSession) -> None:
    await revoke_api_token(session, token_id=token_id, actor_id=admin.id)


def _token_out(token: ApiToken, operator: Operator | None, team_ids: list[int]) -> ApiTokenOut:
    expired = token.expires_at is not None and token.expires_at <= utcnow()
    return ApiTokenOut(
        id=token.id, name=token.name, role=operator.role if operator else "", team_ids=team_ids, operator_id=token.operator_id,
        created_by=token.created_by, created_at=token.created_at, expires_at=token.expires_at, revoked_at=token.revoked_at,
        active=token.revoked_at is None and not expired,
    )  # fmt: skip


@router.get("/audit", summary="The audit log, newest first (admins)")
async def audit_log(
    _: AdminOperator,
    session: ReadSession,
    customer_id: int | None = None,
    actor_id: int | None = None,
    action: Annotated[str | None, Query(max_length=64, description='exact, or a prefix ending in "." (e.g. "read.")')] = None,
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: AwareDatetime | None = None,
    before_id: int | None = None,
    limit: Limit = 50,
) -> dict:
    flt = AuditFilter(customer_id=customer_id, actor_id=actor_id, action=action, since=from_, until=to)
    rows = await audit_page(session, flt, before_id=before_id, limit=limit)
    return {"items": [AuditEntryOut.model_validate(e) for e in rows], "next_cursor": rows[-1].id if len(rows) == limit else None}
