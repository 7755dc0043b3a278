"""Automation rules (read: anyone; change: admins) and the actions they can take."""

from __future__ import annotations

from fastapi import APIRouter, Response

from okno.api.deps import AdminOperator, Ctx, CurrentOperator, ReadSession, WriteSession
from okno.api.service_schemas import AutomationActionKindOut, AutomationRuleIn, AutomationRuleOut, AutomationRulePatch
from okno.automation import rules
from okno.automation.actions import ACTIONS, published_models

router = APIRouter(prefix="/api/v1/automation", tags=["automation"])


@router.get("/actions")
async def list_actions(_: CurrentOperator) -> dict[str, list[AutomationActionKindOut]]:
    """Every installed action with its name in Russian and English and the JSON Schema of its params."""
    return {
        "items": [
            AutomationActionKindOut(type=action.type, label=action.label.as_json(), params_schema=model.model_json_schema())
            for action, model in zip(ACTIONS.values(), published_models(), strict=True)
        ]
    }


@router.get("/rules")
async def list_rules(_: CurrentOperator, session: ReadSession) -> dict:
    return {"items": [AutomationRuleOut.model_validate(r) for r in await rules.list_rules(session)]}


@router.post("/rules", response_model=AutomationRuleOut, status_code=201)
async def add_rule(body: AutomationRuleIn, admin: AdminOperator, session: WriteSession, ctx: Ctx) -> AutomationRuleOut:
    return AutomationRuleOut.model_validate(await rules.add_rule(session, fields=body.model_dump(), actor_id=admin.id, box=ctx.box, urls=ctx.urls))


@router.patch("/rules/{rule_id}", response_model=AutomationRuleOut)
async def change_rule(rule_id: int, body: AutomationRulePatch, admin: AdminOperator, session: WriteSession, ctx: Ctx) -> AutomationRuleOut:
    rule = await rules.change_rule(session, rule_id, fields=body.model_dump(exclude_unset=True), actor_id=admin.id, box=ctx.box, urls=ctx.urls)
    return AutomationRuleOut.model_validate(rule)


@router.delete("/rules/{rule_id}", status_code=204)
async def remove_rule(rule_id: int, admin: AdminOperator, session: WriteSession) -> Response:
    await rules.remove_rule(session, rule_id, actor_id=admin.id)
    return Response(status_code=204)
