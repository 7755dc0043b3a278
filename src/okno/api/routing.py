"""Routing rules (read: anyone; change: admins)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from okno.api.deps import AdminOperator, CurrentOperator, ReadSession, WriteSession
from okno.api.service_schemas import RoutingRuleIn, RoutingRuleOut, RoutingRulePatch
from okno.routing import rules

router = APIRouter(prefix="/api/v1/routing/rules", tags=["routing"])


@router.get("")
async def list_rules(_: CurrentOperator, session: ReadSession) -> dict:
    return {"items": [RoutingRuleOut.model_validate(r) for r in await rules.list_rules(session)]}


@router.post("", response_model=RoutingRuleOut, status_code=201)
async def add_rule(body: RoutingRuleIn, admin: AdminOperator, session: WriteSession) -> RoutingRuleOut:
    return RoutingRuleOut.model_validate(await rules.add_rule(session, fields=body.model_dump(), actor_id=admin.id))


@router.patch("/{rule_id}", response_model=RoutingRuleOut)
async def change_rule(rule_id: int, body: RoutingRulePatch, admin: AdminOperator, session: WriteSession) -> RoutingRuleOut:
    rule = await rules.change_rule(session, rule_id, fields=body.model_dump(exclude_unset=True), actor_id=admin.id)
    return RoutingRuleOut.model_validate(rule)


@router.delete("/{rule_id}", status_code=204)
async def remove_rule(rule_id: int, admin: AdminOperator, session: WriteSession) -> Response:
    await rules.remove_rule(session, rule_id, actor_id=admin.id)
    return Response(status_code=204)
