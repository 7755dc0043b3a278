from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from okno.api.deps import AdminOperator, CurrentOperator, ManagerOperator, ReadSession, WriteSession
from okno.api.account_schemas import OperatorChangeIn
from okno.api.schemas import OperatorIn, OperatorOut, PresenceIn, TeamIn, TeamOut
from okno.auth.accounts import AccountChange, change_account, delete_account
from okno.auth.passwords import new_password_hash
from okno.auth.service import create_operator
from okno.kit.errors import Conflict
from okno.models import Operator, OperatorKind, Team
from okno.routing.operators import change_routing_profile, set_operator_presence
from okno.telephony.extensions import set_extension

router = APIRouter(prefix="/api/v1", tags=["operators"])


@router.post("/operators", response_model=OperatorOut, status_code=201)
async def add_operator(body: OperatorIn, admin: AdminOperator, session: WriteSession) -> OperatorOut:
    operator = await create_operator(
        session, email=body.email, password=body.password, name=body.name, role=body.role, actor_id=admin.id
    )
    return OperatorOut.model_validate(operator)


@router.get("/operators")
async def list_operators(_: CurrentOperator, session: ReadSession) -> dict:
    rows = await session.scalars(select(Operator).where(Operator.kind == OperatorKind.person.value).order_by(Operator.id))
    return {"items": [OperatorOut.model_validate(o) for o in rows]}


@router.post("/operators/me/presence", response_model=OperatorOut)
async def set_my_presence(body: PresenceIn, operator: CurrentOperator, session: WriteSession) -> OperatorOut:
    return OperatorOut.model_validate(await set_operator_presence(session, operator_id=operator.id, presence=body.status))


@router.patch("/operators/{operator_id}", response_model=OperatorOut)
async def change_operator(operator_id: int, body: OperatorChangeIn, admin: AdminOperator, session: WriteSession) -> OperatorOut:
    """Routing attributes, role, activation (deactivating ends every session of his) and a
    password reset. The new password is hashed before the first statement takes the writer."""
    password_hash = await new_password_hash(body.password) if body.password is not None else None
    change = AccountChange(role=body.role, is_active=body.is_active, password_hash=password_hash, name=body.name, email=body.email)
    operator = await change_account(session, operator_id=operator_id, change=change, actor_id=admin.id)
    if body.experienced is not None or body.skills is not None or body.capacity is not None:
        operator = await change_routing_profile(
            session, operator_id=operator_id, experienced=body.experienced, skills=body.skills, capacity=body.capacity, actor_id=admin.id
        )
    if body.extension is not None:
        operator = await set_extension(session, operator_id=operator_id, extension=body.extension or None, actor_id=admin.id)
    return OperatorOut.model_validate(operator)


@router.delete("/operators/{operator_id}", status_code=204, summary="Delete an account that has done nothing yet (else 409: deactivate him)")
async def remove_operator(operator_id: int, admin: AdminOperator, session: WriteSession) -> Response:
    await delete_account(session, operator_id=operator_id, actor_id=admin.id)
    return Response(status_code=204)


@router.post("/teams", response_model=TeamOut, status_code=201)
async def add_team(body: TeamIn, _: ManagerOperator, session: WriteSession) -> TeamOut:
    name = body.name.strip()
    if await session.scalar(select(Team.id).where(Team.name == name)):
        raise Conflict("team %(name)r already exists", name=name)
    team = Team(name=name)
    session.add(team)
    await session.flush()
    return TeamOut.model_validate(team)


@router.get("/teams")
async def list_teams(_: CurrentOperator, session: ReadSession) -> dict:
    return {"items": [TeamOut.model_validate(t) for t in await session.scalars(select(Team).order_by(Team.id))]}
