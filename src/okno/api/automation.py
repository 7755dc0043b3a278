"""Automation rules (read: anyone; change: admins)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from okno.api.deps import AdminOperator, CurrentOperator, Ctx, ReadSession, WriteSession
from okno.api.service_schemas import AutomationRuleIn, AutomationRuleOut, AutomationRulePatch
from okno.automation import rules

router = APIRouter(prefix="/api/v1/automation/rules", tags=["automation"])


@router.get("")
async def list_rules(_: CurrentOperator, session: ReadSession) -> dict:
    return {"items": [AutomationRuleOut.model_validate(r) for r in await rules.list_rules(session)]}


@router.post("", response_model=AutomationRuleOut, status_code=201)
async def add_rule(body: AutomationRuleIn, admin: AdminOperator, session: WriteSession, ctx: Ctx) -> AutomationRuleOut:
    return AutomationRuleOut.model_validate(await rules.add_rule(session, fields=body.model_dump(), actor_id=admin.id, box=ctx.box))


@router.patch("/{rule_id}", response_model=AutomationRuleOut)
async def change_rule(rule_id: int, body: AutomationRulePatch, admin: AdminOperator, session: WriteSession, ctx: Ctx) -> AutomationRuleOut:
    rule = await rules.change_rule(session, rule_id, fields=body.model_dump(exclude_unset=True), actor_id=admin.id, box=ctx.box)
    return AutomationRuleOut.model_validate(rule)


@router.delete("/{rule_id}", status_code=204)
async def remove_rule(rule_id: int, admin: AdminOperator, session: WriteSession) -> Response:
    await rules.remove_rule(session, rule_id, actor_id=admin.id)
    return Response(status_code=204)
