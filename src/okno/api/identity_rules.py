"""Deterministic mapping rules: read by every operator, edited by admins."""

from __future__ import annotations

from fastapi import APIRouter, Response

from okno.api.deps import AdminOperator, CurrentOperator, ReadSession, WriteSession
from okno.api.identity_schemas import IdentityRuleIn, IdentityRuleOut
from okno.customers.identity_kinds import default_rules
from okno.customers.rules import RuleBook, remove_rule, rule_book, set_rule

router = APIRouter(prefix="/api/v1/identity-rules", tags=["identity"])


def _out(book: RuleBook) -> dict:
    return {"items": [IdentityRuleOut(**vars(r), is_default=r in default_rules()) for r in book.listing()]}


@router.get("")
async def list_rules(_: CurrentOperator, session: ReadSession) -> dict:
    return _out(await rule_book(session, fresh=True))


@router.put("", response_model=IdentityRuleOut)
async def put_rule(body: IdentityRuleIn, admin: AdminOperator, session: WriteSession) -> IdentityRuleOut:
    rule = await set_rule(session, kind=body.kind, source=body.source, proves=body.proves, note=body.note, actor_id=admin.id)
    return IdentityRuleOut(**vars(rule), is_default=rule in default_rules())


@router.delete("/{kind}/{source}", status_code=204)
async def delete_rule(kind: str, source: str, admin: AdminOperator, session: WriteSession) -> Response:
    await remove_rule(session, kind=kind, source=source, actor_id=admin.id)
    return Response(status_code=204)
