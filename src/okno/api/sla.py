"""SLA policies, business-hours calendars, team service settings, and a conversation's SLA results."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from okno.api.access import OperatorScope
from okno.api.deps import AdminOperator, CurrentOperator, ManagerOperator, ReadSession, WriteSession
from okno.api.schemas import TeamOut
from okno.api.service_schemas import (
    CalendarIn,
    CalendarOut,
    CalendarPatch,
    SlaPolicyIn,
    SlaPolicyOut,
    SlaPolicyPatch,
    SlaTargetOut,
    TeamConfigIn,
    TeamMemberIn,
)
from okno.conversations.queries import get_conversation
from okno.models import BusinessHours, SlaPolicy, SlaTarget
from okno.routing.teams import add_team_member, configure_team, delete_team, remove_team_member, team_member_ids
from okno.sla import policies

router = APIRouter(prefix="/api/v1", tags=["SLA"])


@router.get("/sla/policies")
async def list_policies(_: CurrentOperator, session: ReadSession) -> dict:
    rows = await session.scalars(select(SlaPolicy).order_by(SlaPolicy.id))
    return {"items": [SlaPolicyOut.model_validate(p) for p in rows]}


@router.post("/sla/policies", response_model=SlaPolicyOut, status_code=201)
async def add_policy(body: SlaPolicyIn, admin: AdminOperator, session: WriteSession) -> SlaPolicyOut:
    policy = await policies.add_policy(
        session, name=body.name, targets=body.targets, warning_minutes=body.warning_minutes, is_default=body.is_default, actor_id=admin.id
    )
    return SlaPolicyOut.model_validate(policy)


@router.patch("/sla/policies/{policy_id}", response_model=SlaPolicyOut)
async def change_policy(policy_id: int, body: SlaPolicyPatch, admin: AdminOperator, session: WriteSession) -> SlaPolicyOut:
    policy = await policies.change_policy(
        session,
        policy_id,
        name=body.name,
        targets=body.targets,
        warning_minutes=body.warning_minutes,
        is_default=body.is_default,
        actor_id=admin.id,
        is_active=body.is_active,
    )
    return SlaPolicyOut.model_validate(policy)


@router.delete("/sla/policies/{policy_id}", status_code=204, summary="Delete a policy nothing names yet (else 409: disable it)")
async def remove_policy(policy_id: int, admin: AdminOperator, session: WriteSession) -> Response:
    await policies.remove_policy(session, policy_id, actor_id=admin.id)
    return Response(status_code=204)


@router.get("/calendars")
async def list_calendars(_: CurrentOperator, session: ReadSession) -> dict:
    rows = await session.scalars(select(BusinessHours).order_by(BusinessHours.id))
    return {"items": [CalendarOut.model_validate(c) for c in rows]}


@router.post("/calendars", response_model=CalendarOut, status_code=201)
async def add_calendar(body: CalendarIn, admin: AdminOperator, session: WriteSession) -> CalendarOut:
    hours = await policies.add_calendar(
        session, name=body.name, timezone=body.timezone, weekly=body.weekly, holidays=body.holidays, actor_id=admin.id
    )
    return CalendarOut.model_validate(hours)


@router.patch("/calendars/{calendar_id}", response_model=CalendarOut)
async def change_calendar(calendar_id: int, body: CalendarPatch, admin: AdminOperator, session: WriteSession) -> CalendarOut:
    hours = await policies.change_calendar(
        session, calendar_id, name=body.name, timezone=body.timezone, weekly=body.weekly, holidays=body.holidays, actor_id=admin.id
    )
    return CalendarOut.model_validate(hours)


@router.delete("/calendars/{calendar_id}", status_code=204, summary="Delete a calendar no team or running deadline uses (else 409)")
async def remove_calendar(calendar_id: int, admin: AdminOperator, session: WriteSession) -> Response:
    await policies.remove_calendar(session, calendar_id, actor_id=admin.id)
    return Response(status_code=204)


@router.patch("/teams/{team_id}", response_model=TeamOut)
async def configure(team_id: int, body: TeamConfigIn, admin: AdminOperator, session: WriteSession) -> TeamOut:
    team = await configure_team(session, team_id, changes=body.model_dump(exclude_unset=True), actor_id=admin.id)
    return TeamOut.model_validate(team)


@router.get("/teams/{team_id}/members")
async def members(team_id: int, _: CurrentOperator, session: ReadSession) -> dict:
    return {"operator_ids": await team_member_ids(session, team_id)}


@router.post("/teams/{team_id}/members")
async def add_member(team_id: int, body: TeamMemberIn, manager: ManagerOperator, session: WriteSession) -> dict:
    return {"operator_ids": await add_team_member(session, team_id, body.operator_id, actor_id=manager.id)}


@router.delete("/teams/{team_id}/members/{operator_id}")
async def remove_member(team_id: int, operator_id: int, manager: ManagerOperator, session: WriteSession) -> dict:
    return {"operator_ids": await remove_team_member(session, team_id, operator_id, actor_id=manager.id)}


@router.delete("/teams/{team_id}", status_code=204, summary="Delete a team no conversation, channel, rule or answer names (else 409)")
async def remove_team(team_id: int, admin: AdminOperator, session: WriteSession) -> Response:
    await delete_team(session, team_id, actor_id=admin.id)
    return Response(status_code=204)


@router.get("/conversations/{conversation_id}/sla")
async def conversation_sla(conversation_id: int, scope: OperatorScope, session: ReadSession) -> dict:
    await get_conversation(session, conversation_id, scope=scope)
    rows = await session.scalars(select(SlaTarget).where(SlaTarget.conversation_id == conversation_id).order_by(SlaTarget.id))
    return {"items": [SlaTargetOut.model_validate(t) for t in rows]}
