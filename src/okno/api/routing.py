"""Routing rules (read: anyone; change: admins), what they set, and the conditions rules test."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from okno.api.deps import AdminOperator, CurrentOperator, ReadSession, WriteSession
from okno.api.service_schemas import ConditionFieldOut, RoutingRuleIn, RoutingRuleOut, RoutingRulePatch
from okno.routing import rules
from okno.routing.conditions import FIELDS, OPS

router = APIRouter(prefix="/api/v1/routing", tags=["routing"])


@router.get("/conditions")
async def list_conditions(_: CurrentOperator) -> dict[str, Any]:
    """The fields routing and automation rules can test, each with its operators and the JSON
    Schema of a condition on it; ``ops`` names every operator in Russian and English."""
    return {
        "items": [
            ConditionFieldOut(
                field=f.key, label=f.label.as_json(), ops=list(f.ops), widget=f.widget, extras=list(f.extras),
                condition_schema=f.model().model_json_schema(),
            )
            for f in FIELDS.values()
        ],
        "ops": {op: label.as_json() for op, label in OPS.items()},
    }


@router.get("/actions")
async def routing_actions_schema(_: CurrentOperator) -> dict[str, Any]:
    """The JSON Schema of what a matching routing rule sets."""
    return {"schema": rules.RoutingActions.model_json_schema()}


@router.get("/rules")
async def list_rules(_: CurrentOperator, session: ReadSession) -> dict:
    return {"items": [RoutingRuleOut.model_validate(r) for r in await rules.list_rules(session)]}


@router.post("/rules", response_model=RoutingRuleOut, status_code=201)
async def add_rule(body: RoutingRuleIn, admin: AdminOperator, session: WriteSession) -> RoutingRuleOut:
    return RoutingRuleOut.model_validate(await rules.add_rule(session, fields=body.model_dump(), actor_id=admin.id))


@router.patch("/rules/{rule_id}", response_model=RoutingRuleOut)
async def change_rule(rule_id: int, body: RoutingRulePatch, admin: AdminOperator, session: WriteSession) -> RoutingRuleOut:
    rule = await rules.change_rule(session, rule_id, fields=body.model_dump(exclude_unset=True), actor_id=admin.id)
    return RoutingRuleOut.model_validate(rule)


@router.delete("/rules/{rule_id}", status_code=204)
async def remove_rule(rule_id: int, admin: AdminOperator, session: WriteSession) -> Response:
    await rules.remove_rule(session, rule_id, actor_id=admin.id)
    return Response(status_code=204)
